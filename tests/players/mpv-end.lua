-- Loaded by tests/players/cli.mjs into mpv (--script): on unload, before
-- the file is closed, print where playback got to and why it ended, so the
-- harness can tell "played to the end" from "gave up half-way".
local pos, dur = nil, nil
mp.add_hook("on_unload", 50, function()
  pos = mp.get_property_number("time-pos")
  dur = mp.get_property_number("duration")
end)
mp.register_event("end-file", function(e)
  io.stdout:write(string.format("PCMPV end reason=%s error=%s pos=%s duration=%s\n",
    tostring(e.reason), tostring(e.error), tostring(pos), tostring(dur)))
  io.stdout:flush()
end)
