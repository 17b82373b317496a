-- Paces another load script: runs $LOAD_SCRIPT (get.lua, create_patch_delete.lua) and waits
-- $LOAD_DELAY_MS between one connection's requests, so a long run holds a steady mixed rate
-- instead of saturating the machine (the soak, scripts/load/soak.py).
dofile(os.getenv("LOAD_DIR") .. "/" .. os.getenv("LOAD_SCRIPT"))
local pause = tonumber(os.getenv("LOAD_DELAY_MS") or "0")
function delay() return pause end
