Feature: Sharing an image between projects
  A shared image is visible to its owner and, once they accept, to its members; members can
  read it but never change it.

  Background:
    Given a glance-api server in trusted-auth mode

  Scenario: The owner shares, the other project accepts, sees, and cannot modify
    Given I am a member of project "alpha"
    When I create an image with:
      """
      {"name": "shared-img", "visibility": "shared"}
      """
    And I send POST "/v2/images/{id}/members" with:
      """
      {"member": "beta"}
      """
    Then the response status is 200
    And the image's "status" is "pending"
    Given I am a member of project "beta"
    When I send GET "/v2/images"
    Then the images listed are ""
    When I send GET "/v2/images?member_status=pending"
    Then the images listed are "shared-img"
    When I send PUT "/v2/images/{id}/members/beta" with:
      """
      {"status": "accepted"}
      """
    Then the response status is 200
    When I send GET "/v2/images"
    Then the images listed are "shared-img"
    When I send PATCH "/v2/images/{id}" with:
      """
      [{"op": "replace", "path": "/name", "value": "stolen"}]
      """
    Then the response status is 403
    When I send DELETE "/v2/images/{id}"
    Then the response status is 403

  Scenario: The owner cannot accept on the member's behalf, and private images have no members
    Given I am a member of project "alpha"
    When I create an image with:
      """
      {"name": "img", "visibility": "shared"}
      """
    And I send POST "/v2/images/{id}/members" with:
      """
      {"member": "beta"}
      """
    And I send PUT "/v2/images/{id}/members/beta" with:
      """
      {"status": "accepted"}
      """
    Then the response status is 403
    When I create an image with:
      """
      {"name": "private-img", "visibility": "private"}
      """
    And I send POST "/v2/images/{id}/members" with:
      """
      {"member": "beta"}
      """
    Then the response status is 403

  Scenario: Another project's private image does not exist for you
    Given I am a member of project "alpha"
    When I create an image with:
      """
      {"name": "secret", "visibility": "private"}
      """
    Given I am a member of project "beta"
    When I send GET "/v2/images/{id}"
    Then the response status is 404
    When I send GET "/v2/images"
    Then the images listed are ""

  Scenario: Tag and property filters show another project only what it may see, as that changes
    Given I am a member of project "alpha"
    When I create an image with:
      """
      {"name": "tagged", "visibility": "private", "tags": ["gold"], "os_distro": "debian"}
      """
    Given I am a member of project "beta"
    When I send GET "/v2/images?tag=gold"
    Then the images listed are ""
    When I send GET "/v2/images?os_distro=debian"
    Then the images listed are ""
    Given I am a member of project "alpha"
    When I send PATCH "/v2/images/{id}" with:
      """
      [{"op": "replace", "path": "/visibility", "value": "shared"}]
      """
    Then the response status is 200
    When I send POST "/v2/images/{id}/members" with:
      """
      {"member": "beta"}
      """
    Then the response status is 200
    Given I am a member of project "beta"
    When I send PUT "/v2/images/{id}/members/beta" with:
      """
      {"status": "accepted"}
      """
    Then the response status is 200
    When I send GET "/v2/images?tag=gold"
    Then the images listed are "tagged"
    When I send GET "/v2/images?os_distro=debian"
    Then the images listed are "tagged"
    Given I am a member of project "alpha"
    When I send PATCH "/v2/images/{id}" with:
      """
      [{"op": "replace", "path": "/visibility", "value": "private"}]
      """
    Then the response status is 200
    Given I am a member of project "beta"
    When I send GET "/v2/images?tag=gold"
    Then the images listed are ""
    When I send GET "/v2/images?os_distro=debian"
    Then the images listed are ""
    When I send GET "/v2/images?tag=gold&member_status=all"
    Then the images listed are ""
