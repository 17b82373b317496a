Feature: Listing images: filters, sorting and pages
  Lists are newest first by default, filter on attributes, tags and properties, and page
  with a marker.

  Background:
    Given a glance-api server in noauth mode
    When I create an image with:
      """
      {"name": "alpha", "disk_format": "raw", "container_format": "bare", "tags": ["linux"], "os_distro": "debian"}
      """
    And I create an image with:
      """
      {"name": "beta", "disk_format": "qcow2", "container_format": "bare", "tags": ["linux", "gpu"]}
      """
    And I create an image with:
      """
      {"name": "gamma", "disk_format": "iso", "container_format": "bare"}
      """

  Scenario: Sorted by name
    When I send GET "/v2/images?sort=name:asc"
    Then the images listed are "alpha, beta, gamma"
    When I send GET "/v2/images?sort_key=name&sort_dir=desc"
    Then the images listed are "gamma, beta, alpha"

  Scenario: Filters
    When I send GET "/v2/images?tag=linux&tag=gpu"
    Then the images listed are "beta"
    When I send GET "/v2/images?disk_format=in:raw,iso&sort=name:asc"
    Then the images listed are "alpha, gamma"
    When I send GET "/v2/images?os_distro=debian"
    Then the images listed are "alpha"
    When I send GET "/v2/images?name=nope"
    Then the images listed are ""

  Scenario: Paging with a marker
    When I send GET "/v2/images?sort=name:asc&limit=2"
    Then the images listed are "alpha, beta"
    And the next link is "/v2/images?sort=name%3Aasc&limit=2" followed by the last image listed
    When I follow the next link
    Then the response status is 200
    And the images listed are "gamma"
    And there is no next link

  Scenario: A tag's pages are newest first, each image once, in either direction
    When I send GET "/v2/images?tag=linux&limit=1"
    Then the images listed are "beta"
    And the next link is "/v2/images?tag=linux&limit=1" followed by the last image listed
    When I follow the next link
    Then the images listed are "alpha"
    When I send GET "/v2/images?tag=linux&sort=created_at:asc"
    Then the images listed are "alpha, beta"
    When I send GET "/v2/images?tag=linux&sort=name:desc"
    Then the images listed are "beta, alpha"
    When I send GET "/v2/images?tag=nope"
    Then the images listed are ""

  Scenario: Images without a name sort as an empty name, and pages pass them once
    When I create an image with:
      """
      {"disk_format": "raw", "container_format": "bare"}
      """
    And I send GET "/v2/images?sort=name:asc&limit=1"
    Then the images listed are "null"
    And the next link is "/v2/images?sort=name%3Aasc&limit=1" followed by the last image listed
    When I follow the next link
    Then the images listed are "alpha"
    When I send GET "/v2/images?sort=name:desc&limit=3"
    Then the images listed are "gamma, beta, alpha"
    And the next link is "/v2/images?sort=name%3Adesc&limit=3" followed by the last image listed
    When I follow the next link
    Then the images listed are "null"

  Scenario: Bad list parameters are refused
    When I send GET "/v2/images?limit=-1"
    Then the response status is 400
    When I send GET "/v2/images?sort_key=nope"
    Then the response status is 400
    When I send GET "/v2/images?marker=00000000-0000-0000-0000-000000000000"
    Then the response status is 400
