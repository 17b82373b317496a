-- The write cycle: POST an image, PATCH it, DELETE it. Each response says which step it
-- finished (201 create, 200 patch, 204 delete); the next request continues some image's cycle.
dofile(os.getenv("LOAD_DIR") .. "/report.lua")

local to_patch, to_delete = {}, {}
local patch_body = '[{"op": "add", "path": "/hw_disk_bus", "value": "scsi"}, {"op": "replace", "path": "/name", "value": "renamed"}]'

request = function()
  local id = table.remove(to_delete)
  if id then
    return wrk.format("DELETE", "/v2/images/" .. id, {})
  end
  id = table.remove(to_patch)
  if id then
    return wrk.format("PATCH", "/v2/images/" .. id,
      {["Content-Type"] = "application/openstack-images-v2.1-json-patch"}, patch_body)
  end
  return wrk.format("POST", "/v2/images", {["Content-Type"] = "application/json"},
    '{"name": "load", "disk_format": "raw", "container_format": "bare", "os_distro": "debian"}')
end

response = function(status, headers, body)
  if status == 201 then
    local id = string.match(body, '"id": "([0-9a-f-]+)"')
    if id then table.insert(to_patch, id) end
  elseif status == 200 then
    local id = string.match(body, '"id": "([0-9a-f-]+)"')
    if id then table.insert(to_delete, id) end
  end
end
