Feature: Imported images converted to the operator's format (the image_conversion plugin)
  With import.plugins = ["image_conversion"], imported data is converted with qemu-img to
  image_conversion.output_format before it is stored (Ceph wants raw), and the image's
  disk_format follows. Content that is not the claimed format is refused, not converted.

  Scenario: A raw web-download is stored as qcow2
    Given a web server on loopback
    And a glance-api server that may web-download from it and converts imports to qcow2
    When I create an image with:
      """
      {"name": "converted", "disk_format": "raw", "container_format": "bare"}
      """
    And I send POST "/v2/images/{id}/import" with:
      """
      {"method": {"name": "web-download", "uri": "{source}/data/1048576"}}
      """
    Then the response status is 202
    When I wait for the import to end
    Then the image's "status" is "active"
    And the image's "disk_format" is "qcow2"
    And the image's "virtual_size" is 1048576
    When I send GET "/v2/images/{id}/file"
    Then the response status is 200
    And the response body contains "QFI"
    When I send GET "/v2/images/{id}/tasks"
    Then the image's task's "status" is "success"

  Scenario: Content that is not its disk_format fails the import, the image queued again
    Given a web server on loopback
    And a glance-api server that may web-download from it and converts imports to raw
    When I create an image with:
      """
      {"name": "claims-qcow2", "disk_format": "qcow2", "container_format": "bare"}
      """
    And I send POST "/v2/images/{id}/import" with:
      """
      {"method": {"name": "web-download", "uri": "{source}/data/1048576"}}
      """
    Then the response status is 202
    When I wait for the import to end
    Then the image's "status" is "queued"
    And the image's "disk_format" is "qcow2"
    When I send GET "/v2/images/{id}/tasks"
    Then the image's task's "status" is "failure"
