Feature: Multiple stores: image data in folders and on S3
  An operator enables several named stores ([stores.NAME], kind file or s3) and picks the
  default (store.default_backend). Clients list the stores, upload to the one they name in
  X-Image-Meta-Store, and see in an image's "stores" which stores hold it. An admin drops one
  copy, never the last; a download falls back to another copy when one is lost. Scenarios
  tagged @s3 run on the real S3 server of tests/s3/lib.sh (scripts/test.sh starts it).

  Scenario: Everyone sees the stores, admins see their types too
    Given a glance-api server in trusted-auth mode with a default file store "fast" and a file store "cheap"
    And I am a member of project "alice"
    When I send GET "/v2/info/stores"
    Then the response status is 200
    And the stores listed are "fast (default), cheap"
    When I send GET "/v2/info/stores/detail"
    Then the response status is 403
    Given I am an admin of project "admin"
    When I send GET "/v2/info/stores/detail"
    Then the response status is 200
    And the stores listed are "fast: file (default), cheap: file"
    When I create an image with:
      """
      {"name": "x"}
      """
    Then the response header "openstack-image-store-ids" is "fast,cheap"

  Scenario: An upload goes to the store the client names, else to the default
    Given a glance-api server in trusted-auth mode with a default file store "fast" and a file store "cheap"
    And I am a member of project "alice"
    When I create an image with:
      """
      {"name": "chosen", "disk_format": "raw", "container_format": "bare"}
      """
    And I upload 70000 bytes to the image in store "cheap"
    Then the response status is 204
    And store "cheap" holds the uploaded data
    And store "fast" holds nothing for the image
    When I send GET "/v2/images/{id}"
    Then the image's "stores" is "cheap"
    When I send GET "/v2/images/{id}/file"
    Then the body is the uploaded data
    When I create an image with:
      """
      {"name": "default", "disk_format": "raw", "container_format": "bare"}
      """
    And I upload 1000 bytes to the image
    And I send GET "/v2/images/{id}"
    Then the image's "stores" is "fast"
    When I create an image with:
      """
      {"name": "nowhere", "disk_format": "raw", "container_format": "bare"}
      """
    And I upload 10 bytes to the image in store "nowhere"
    Then the response status is 400
    And the response body contains "Store for scheme nowhere not found"

  Scenario: An admin drops one copy, never the last, and a download falls back to a copy
    Given a glance-api server in trusted-auth mode with a default file store "fast" and a file store "cheap"
    And I am an admin of project "admin"
    When I create an image with:
      """
      {"name": "two copies", "disk_format": "raw", "container_format": "bare"}
      """
    And I upload 300000 bytes to the image
    And I send POST "/v2/images/{id}/import" with:
      """
      {"method": {"name": "copy-image"}, "stores": ["cheap"]}
      """
    And I wait for the import to end
    Then the image's "stores" is "fast,cheap"
    When the image's data in store "fast" is lost
    And I send GET "/v2/images/{id}/file"
    Then the response status is 200
    And the body is the uploaded data
    When I send DELETE "/v2/stores/fast/{id}"
    Then the response status is 204
    When I send GET "/v2/images/{id}"
    Then the image's "stores" is "cheap"
    When I send DELETE "/v2/stores/cheap/{id}"
    Then the response status is 403
    And the response body contains "Cannot delete image data from the only store containing it"
    When I send DELETE "/v2/images/{id}"
    Then the response status is 204
    And store "cheap" holds nothing for the image

  @s3
  Scenario: Image data on S3: uploaded in parts, served whole and by range, removed with the image
    Given a glance-api server in trusted-auth mode with a default s3 store "objects" and a file store "local"
    And I am a member of project "alice"
    When I create an image with:
      """
      {"name": "on s3", "disk_format": "raw", "container_format": "bare"}
      """
    And I upload 12000000 bytes to the image
    Then the response status is 204
    And store "objects" holds the uploaded data
    And store "local" holds nothing for the image
    When I send GET "/v2/images/{id}"
    Then the image's "stores" is "objects"
    And the image's "size" is 12000000
    When I send GET "/v2/images/{id}/file"
    Then the response status is 200
    And the body is the uploaded data
    When I send GET "/v2/images/{id}/file" with header "range" = "bytes=5242870-5242889"
    Then the response status is 206
    And the body is the uploaded data from byte 5242870 to 5242889
    When I send DELETE "/v2/images/{id}"
    Then the response status is 204
    And store "objects" holds nothing for the image

  @s3
  Scenario: Two stores, a folder and S3: the client picks S3 per upload
    Given a glance-api server in trusted-auth mode with a default file store "local" and an s3 store "objects"
    And I am a member of project "alice"
    When I create an image with:
      """
      {"name": "to s3", "disk_format": "raw", "container_format": "bare"}
      """
    And I upload 4096 bytes to the image in store "objects"
    Then the response status is 204
    And store "objects" holds the uploaded data
    When I send GET "/v2/images/{id}"
    Then the image's "stores" is "objects"
    When I send GET "/v2/images/{id}/file"
    Then the body is the uploaded data
