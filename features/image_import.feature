Feature: Interoperable image import: stage and glance-direct, web-download, copy-image, tasks
  Modern clients create images with Glance's interoperable import: they stage the data (or
  name a URL), then ask the service to import it. The import runs as a task; the image moves
  queued → uploading → importing → active, or back to queued when the import fails. With
  several stores, an import goes into the stores the client names, and an admin copies an
  active image's data into more stores with copy-image.

  Scenario: The service tells which import methods it carries out
    Given a glance-api server in noauth mode
    When I send GET "/v2/info/import"
    Then the response status is 200
    And the import methods are "glance-direct,web-download,copy-image"
    When I create an image with:
      """
      {"name": "x"}
      """
    Then the response header "openstack-image-import-methods" is "glance-direct,web-download,copy-image"

  Scenario: glance-direct: stage, import, the image goes active with its data and a task
    Given a glance-api server in noauth mode
    When I create an image with:
      """
      {"name": "staged", "disk_format": "raw", "container_format": "bare"}
      """
    And I stage 1048576 bytes to the image
    Then the response status is 204
    When I send GET "/v2/images/{id}"
    Then the image's "status" is "uploading"
    And the image's "size" is 1048576
    And the image's "checksum" is null
    When I send POST "/v2/images/{id}/import" with:
      """
      {"method": {"name": "glance-direct"}}
      """
    Then the response status is 202
    When I wait for the import to end
    Then the image's "status" is "active"
    And the image's "checksum" is "8f293a2f6c19b345152f7a49bb4c643c"
    And the image's "os_glance_importing_to_stores" is ""
    And the image's "os_glance_failed_import" is ""
    And the image has no "os_glance_import_task"
    When I send GET "/v2/images/{id}/file"
    Then the body is the uploaded data
    When I send GET "/v2/images/{id}/tasks"
    Then the image's task's "status" is "success"
    And the image's task's "type" is "api_image_import"

  Scenario: Importing what was not staged, or an active image, is a conflict
    Given a glance-api server in noauth mode
    When I create an image with:
      """
      {"name": "unstaged", "disk_format": "raw", "container_format": "bare"}
      """
    And I send POST "/v2/images/{id}/import" with:
      """
      {"method": {"name": "glance-direct"}}
      """
    Then the response status is 409
    And the response body contains "Image needs to be staged before 'glance-direct' method can be used"
    When I send POST "/v2/images/{id}/import" with:
      """
      {"method": {"name": "copy-image"}}
      """
    Then the response status is 409
    And the response body contains "Only images with status active can be targeted for copying"

  Scenario: Staged data is inspected like an upload
    Given a glance-api server in noauth mode
    When I create an image with:
      """
      {"name": "liar", "disk_format": "qcow2", "container_format": "bare"}
      """
    And I stage 65536 bytes to the image
    Then the response status is 415
    When I send GET "/v2/images/{id}"
    Then the image's "status" is "queued"

  Scenario: web-download fetches from an allowed URL
    Given a web server on loopback
    And a glance-api server that may web-download from it
    When I create an image with:
      """
      {"name": "fetched", "disk_format": "raw", "container_format": "bare"}
      """
    And I send POST "/v2/images/{id}/import" with:
      """
      {"method": {"name": "web-download", "uri": "{source}/data/1048576"}}
      """
    Then the response status is 202
    When I wait for the import to end
    Then the image's "status" is "active"
    And the image's "size" is 1048576
    And the image's "checksum" is "8f293a2f6c19b345152f7a49bb4c643c"

  Scenario: web-download refuses a URL outside the filters, and a redirect that leaves them
    Given a web server on loopback
    And a glance-api server that may web-download from it
    When I create an image with:
      """
      {"name": "refused", "disk_format": "raw", "container_format": "bare"}
      """
    And I send POST "/v2/images/{id}/import" with:
      """
      {"method": {"name": "web-download", "uri": "http://localhost:{source_port}/data/10"}}
      """
    Then the response status is 400
    And the response body contains "URI for web-download does not pass filtering"
    When I send POST "/v2/images/{id}/import" with:
      """
      {"method": {"name": "web-download", "uri": "{source}/redirect?to=http://localhost:{source_port}/data/10"}}
      """
    Then the response status is 202
    When I wait for the import to end
    Then the image's "status" is "queued"
    When I send GET "/v2/images/{id}/tasks"
    Then the image's task's "status" is "failure"
    And the image's task's "message" contains "redirect refused"

  Scenario: glance-direct into every store at once
    Given a glance-api server in trusted-auth mode with a default file store "fast" and a file store "cheap"
    And I am an admin of project "admin"
    When I create an image with:
      """
      {"name": "everywhere", "disk_format": "raw", "container_format": "bare"}
      """
    And I stage 300000 bytes to the image
    And I send POST "/v2/images/{id}/import" with:
      """
      {"method": {"name": "glance-direct"}, "all_stores": true}
      """
    Then the response status is 202
    When I wait for the import to end
    Then the image's "status" is "active"
    And the image's "stores" is "fast,cheap"
    And the image's "os_glance_importing_to_stores" is ""
    And the image's "os_glance_failed_import" is ""
    And store "fast" holds the uploaded data
    And store "cheap" holds the uploaded data

  Scenario: copy-image puts an active image's data into another store
    Given a glance-api server in trusted-auth mode with a default file store "fast" and a file store "cheap"
    And I am an admin of project "admin"
    When I create an image with:
      """
      {"name": "copied", "disk_format": "raw", "container_format": "bare"}
      """
    And I upload 300000 bytes to the image
    And I send POST "/v2/images/{id}/import" with:
      """
      {"method": {"name": "copy-image"}, "stores": ["cheap"]}
      """
    Then the response status is 202
    When I wait for the import to end
    Then the image's "status" is "active"
    And the image's "stores" is "fast,cheap"
    And the image's "os_glance_importing_to_stores" is ""
    And the image's "os_glance_failed_import" is ""
    And store "cheap" holds the uploaded data
    When I send GET "/v2/images/{id}/tasks"
    Then the image's task's "status" is "success"
    When the image's data in store "fast" is lost
    And I send GET "/v2/images/{id}/file"
    Then the response status is 200
    And the body is the uploaded data
    When I send POST "/v2/images/{id}/import" with:
      """
      {"method": {"name": "copy-image"}, "stores": ["cheap"]}
      """
    Then the response status is 400
    And the response body contains "Image is already present at store 'cheap'"
    When I send POST "/v2/images/{id}/import" with:
      """
      {"method": {"name": "copy-image"}, "all_stores": true}
      """
    Then the response status is 202

  Scenario: Only admins copy, and only into enabled stores
    Given a glance-api server in trusted-auth mode with a default file store "fast" and a file store "cheap"
    And I am a member of project "p1"
    When I create an image with:
      """
      {"name": "mine", "disk_format": "raw", "container_format": "bare"}
      """
    And I upload 1000 bytes to the image
    And I send POST "/v2/images/{id}/import" with:
      """
      {"method": {"name": "copy-image"}, "stores": ["cheap"]}
      """
    Then the response status is 403
    And the response body contains "You are not authorized to complete copy_image action."
    Given I am an admin of project "admin"
    When I send POST "/v2/images/{id}/import" with:
      """
      {"method": {"name": "copy-image"}, "stores": ["elsewhere"]}
      """
    Then the response status is 409
    And the response body contains "Unknown scheme 'elsewhere' found in URI"
    When I send POST "/v2/images/{id}/import" with:
      """
      {"method": {"name": "copy-image"}, "all_stores": true, "stores": ["cheap"]}
      """
    Then the response status is 400
    And the response body contains "All_stores parameter can't be used with x-image-meta-store header or stores parameter"
    When I send GET "/v2/images/{id}"
    Then the image's "stores" is "fast"
    And the image has no "os_glance_import_task"
