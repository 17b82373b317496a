-- GET one path (wrk's URL) with a trusted identity; prints WRK_JSON at the end.
dofile(os.getenv("LOAD_DIR") .. "/report.lua")
wrk.headers["Accept"] = "application/json"
