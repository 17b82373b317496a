-- GET one path (wrk's URL) as a trusted-auth caller: project $GLANCE_LOAD_PROJECT with roles
-- $GLANCE_LOAD_ROLES (comma-separated); prints WRK_JSON at the end.
dofile(os.getenv("LOAD_DIR") .. "/report.lua")
wrk.headers["Accept"] = "application/json"
wrk.headers["X-Identity-Status"] = "Confirmed"
wrk.headers["X-User-Id"] = "load-user"
wrk.headers["X-Project-Id"] = os.getenv("GLANCE_LOAD_PROJECT")
wrk.headers["X-Roles"] = os.getenv("GLANCE_LOAD_ROLES")
