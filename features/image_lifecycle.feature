Feature: Image lifecycle: create, upload, download, delete
  An image is created queued, becomes active when its data is uploaded, serves its data
  whole or in ranges, and disappears for everyone when deleted.

  Background:
    Given a glance-api server in noauth mode

  Scenario: A created image is queued with Glance's defaults
    When I create an image with:
      """
      {"name": "cirros", "disk_format": "raw", "container_format": "bare"}
      """
    Then the image's "status" is "queued"
    And the image's "visibility" is "shared"
    And the image's "size" is null
    And the image's "owner" is null
    And the image's "min_disk" is 0
    And the image's "protected" is false
    And the image's tags are ""
    And the response header "location" is "{base}/v2/images/{id}"

  Scenario: Upload makes the image active with its checksums, and download returns the bytes
    When I create an image with:
      """
      {"name": "data", "disk_format": "raw", "container_format": "bare"}
      """
    And I upload 1048576 bytes to the image
    Then the response status is 204
    When I send GET "/v2/images/{id}"
    Then the image's "status" is "active"
    And the image's "size" is 1048576
    And the image's "checksum" is "8f293a2f6c19b345152f7a49bb4c643c"
    And the image's "os_hash_algo" is "sha512"
    When I send GET "/v2/images/{id}/file"
    Then the response status is 200
    And the response header "content-md5" is "8f293a2f6c19b345152f7a49bb4c643c"
    And the body is the uploaded data
    When I send GET "/v2/images/{id}/file" with header "range" = "bytes=0-9"
    Then the response status is 206
    And the response header "content-range" is "bytes 0-9/1048576"
    And the body is the uploaded data from byte 0 to 9

  Scenario: An image without data downloads as 204, and a second upload is refused
    When I create an image with:
      """
      {"name": "empty", "disk_format": "raw", "container_format": "bare"}
      """
    And I send GET "/v2/images/{id}/file"
    Then the response status is 204
    When I upload 10 bytes to the image
    Then the response status is 204
    When I upload 10 bytes to the image
    Then the response status is 409

  Scenario: Upload needs the disk and container formats
    When I create an image with:
      """
      {"name": "no-formats"}
      """
    And I upload 10 bytes to the image
    Then the response status is 400
    When I send GET "/v2/images/{id}"
    Then the image's "status" is "queued"

  Scenario: A deleted image is gone
    When I create an image with:
      """
      {"name": "doomed", "disk_format": "raw", "container_format": "bare"}
      """
    And I upload 100 bytes to the image
    And I send DELETE "/v2/images/{id}"
    Then the response status is 204
    When I send GET "/v2/images/{id}"
    Then the response status is 404
    When I send GET "/v2/images/{id}/file"
    Then the response status is 404

  Scenario: A protected image cannot be deleted, even by an admin
    When I create an image with:
      """
      {"name": "keep", "protected": true}
      """
    And I send DELETE "/v2/images/{id}"
    Then the response status is 403
    When I send PATCH "/v2/images/{id}" with:
      """
      [{"op": "replace", "path": "/protected", "value": false}]
      """
    Then the response status is 200
    When I send DELETE "/v2/images/{id}"
    Then the response status is 204

  Scenario: Deactivated images keep their metadata but not their data
    Given I am a member of project "owner"
    And a glance-api server in trusted-auth mode
    When I create an image with:
      """
      {"name": "deact", "disk_format": "raw", "container_format": "bare", "os_distro": "debian", "min_disk": 3, "tags": ["kept", "too"]}
      """
    And I upload 10 bytes to the image
    And I send POST "/v2/images/{id}/actions/deactivate"
    Then the response status is 204
    When I send GET "/v2/images/{id}"
    Then the image's "status" is "deactivated"
    And the image's "name" is "deact"
    And the image's "os_distro" is "debian"
    And the image's "min_disk" is 3
    And the image's tags are "kept, too"
    And the image's "size" is 10
    And the image's "checksum" is "c56bd5480f6e5413cb62a0ad9666613a"
    When I send GET "/v2/images/{id}/file"
    Then the response status is 403
    When I send POST "/v2/images/{id}/actions/reactivate"
    Then the response status is 204
    When I send GET "/v2/images/{id}"
    Then the image's "status" is "active"
    And the image's "os_distro" is "debian"
    And the image's "min_disk" is 3
    And the image's tags are "kept, too"
    And the image's "checksum" is "c56bd5480f6e5413cb62a0ad9666613a"
    When I send GET "/v2/images/{id}/file"
    Then the response status is 200
    And the body is the uploaded data
