-- GET one path (wrk's URL), with $GLANCE_LOAD_TOKEN as X-Auth-Token if set; prints WRK_JSON at the end.
dofile(os.getenv("LOAD_DIR") .. "/report.lua")
wrk.headers["Accept"] = "application/json"
-- keystone mode: the token to send (GLANCE_LOAD_TOKEN), empty or unset for noauth.
local token = os.getenv("GLANCE_LOAD_TOKEN")
if token ~= nil and token ~= "" then wrk.headers["X-Auth-Token"] = token end
