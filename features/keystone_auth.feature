@keystone
Feature: Keystone tokens decide who may do what
  With auth.mode = "keystone", glance-api validates X-Auth-Token with a real Keystone and
  applies Glance's secure-RBAC defaults from the token's roles: a member writes in its own
  project, a reader of that project only reads, another project sees nothing private, and a
  missing or bad token is told where to get one.

  Background:
    Given a glance-api server in keystone mode

  Scenario: A member creates in its project; a reader of that project reads but cannot write
    Given I am Keystone user "demo" in project "demo"
    When I create an image with:
      """
      {"name": "ks-img", "visibility": "private", "disk_format": "raw", "container_format": "bare"}
      """
    Then the image's "visibility" is "private"
    Given I am Keystone user "reader" in project "demo"
    When I send GET "/v2/images/{id}"
    Then the response status is 200
    When I send PATCH "/v2/images/{id}" with:
      """
      [{"op": "replace", "path": "/name", "value": "renamed"}]
      """
    Then the response status is 403
    When I send DELETE "/v2/images/{id}"
    Then the response status is 403
    Given I am Keystone user "alt_demo" in project "alt_demo"
    When I send GET "/v2/images/{id}"
    Then the response status is 404
    Given I am Keystone user "demo" in project "demo"
    When I send DELETE "/v2/images/{id}"
    Then the response status is 204

  Scenario: A bad token is refused with 401 and told where to get a token
    Given I send the token "gAAAAABnot-a-real-token"
    When I send GET "/v2/images"
    Then the response status is 401
    And the response asks for a Keystone token

  Scenario: No token at all
    When I send GET "/v2/images"
    Then the response status is 401
    And the response asks for a Keystone token
