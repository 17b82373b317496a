Feature: Image content inspection on upload
  Uploads of bare images are inspected as they stream in, as Glance 33 does: content must be
  what the image's disk_format says, and must not point a hypervisor at other files (qcow2
  backing or data files, VMDK extents). A refused upload answers 415 and leaves the image
  queued without data; an accepted one gets its virtual size from the image header.

  Background:
    Given a glance-api server in noauth mode

  Scenario: A qcow2 image is accepted with the virtual size of its header
    When I create an image with:
      """
      {"name": "disk", "disk_format": "qcow2", "container_format": "bare"}
      """
    And I upload "disk.qcow2" made by "qemu-img create -q -f qcow2 disk.qcow2 64M"
    Then the response status is 204
    When I send GET "/v2/images/{id}"
    Then the image's "status" is "active"
    And the image's "virtual_size" is 67108864

  Scenario: A qcow2 image with a backing file is refused and the image stays queued
    When I create an image with:
      """
      {"name": "evil", "disk_format": "qcow2", "container_format": "bare"}
      """
    And I upload "evil.qcow2" made by "qemu-img create -q -f qcow2 -b base.raw -F raw evil.qcow2"
    Then the response status is 415
    And the response body contains "Image failed safety checks"
    When I send GET "/v2/images/{id}"
    Then the image's "status" is "queued"
    And the image's "size" is null
    When I send GET "/v2/images/{id}/file"
    Then the response status is 204

  Scenario: A qcow2 image with an external data file is refused
    When I create an image with:
      """
      {"name": "evil", "disk_format": "raw", "container_format": "bare"}
      """
    And I upload "evil.qcow2" made by "qemu-img create -q -f qcow2 -o data_file=data.bin evil.qcow2 1M"
    Then the response status is 415
    When I send GET "/v2/images/{id}"
    Then the image's "status" is "queued"

  Scenario: A flat VMDK, whose descriptor names another file, is refused
    When I create an image with:
      """
      {"name": "flat", "disk_format": "vmdk", "container_format": "bare"}
      """
    And I upload "flat.vmdk" made by "qemu-img create -q -f vmdk -o subformat=monolithicFlat flat.vmdk 1M"
    Then the response status is 415
    And the response body contains "Image failed safety checks"

  Scenario: Content that is not its disk_format is refused
    When I create an image with:
      """
      {"name": "liar", "disk_format": "vhdx", "container_format": "bare"}
      """
    And I upload "disk.qcow2" made by "qemu-img create -q -f qcow2 disk.qcow2 1M"
    Then the response status is 415
    And the response body contains "Image disk_format vhdx does not match stream data qcow2"
