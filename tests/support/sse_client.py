"""A server-sent-events reader for tests: opens a stream with http.client and yields each
event as (name, id, data, seconds since open), parsed as the EventSource spec says (data
lines joined by newlines; comments and retry: kept apart)."""
import http.client
import json
import time


class SseStream:
    def __init__(self, host, port, path, token=None, last_event_id=None, timeout=15):
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout)
        headers = {"Accept": "text/event-stream"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.opened = time.monotonic()
        self.conn.request("GET", path, headers=headers)
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.headers = self.response.headers
        self.comments = []
        self.retry = None

    def body(self):
        """The whole body of a non-stream answer (an error)."""
        return self.response.read().decode()

    def events(self):
        """Yields (event, id, data as parsed JSON, seconds since open) until the stream closes."""
        name, event_id, data = "message", None, []
        while True:
            raw = self.response.readline()
            if not raw:
                return
            line = raw.decode().rstrip("\r\n")
            if line == "":
                if data:
                    yield name, event_id, json.loads("\n".join(data)), time.monotonic() - self.opened
                name, event_id, data = "message", None, []
            elif line.startswith(":"):
                self.comments.append(line)
            else:
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "event":
                    name = value
                elif field == "id":
                    event_id = int(value)
                elif field == "data":
                    data.append(value)
                elif field == "retry":
                    self.retry = int(value)

    def close(self):
        self.conn.close()
