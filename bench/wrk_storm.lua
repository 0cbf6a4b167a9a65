-- The one-line alert storm for wrk, a load generator that costs the machine far less CPU per
-- request than a Python client: one `letzshop.api_error` line per request, over 10 stores.
--
--   python -m bench.bare_server --port 8099 &
--   wrk -t1 -c32 -d10s -s bench/wrk_storm.lua http://127.0.0.1:8099
--   wrk -t1 -c32 -d10s -s bench/wrk_storm.lua http://127.0.0.1:8080   # a gateway on loopback
--
-- wrk reports requests/s and any non-2xx answers; the gateway's exact counts are checked by
-- bench/alert_storm.py, which knows what it sent.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-ndjson"
local n = 0

request = function()
  n = n + 1
  local store = n % 10 + 1
  local body = '{"event":"letzshop.api_error","level":"error","logger":"shop.letzshop",'
    .. '"store_id":' .. store .. ',"store_name":"Store ' .. store .. '",'
    .. '"operation":"order_sync","status_code":502,"error_message":"upstream timeout"}\n'
  return wrk.format(nil, "/api/v1/ingest/logs", nil, body)
end
