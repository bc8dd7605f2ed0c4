-- wrk script: the device's first mail.sync page of the Inbox, 50 messages,
-- default fields — the same page the plain proxy run fetches raw.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer demo"
wrk.body = '{"commands":[{"id":"c1","op":"mail.sync","args":{"folder":"inbox","window":50}}]}'
