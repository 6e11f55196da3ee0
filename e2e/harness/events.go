package harness

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Event is one server-sent event as EventSource would dispatch it, or a
// comment (Name "" and Comment set).
type Event struct {
	Name    string
	ID      string
	Data    string
	Comment bool
}

// Decode unmarshals the event's data into v.
func (e Event) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(e.Data), v); err != nil {
		t.Fatalf("event %s data %q: %v", e.Name, e.Data, err)
	}
}

// Events is an open /bff/events stream (or any text/event-stream), parsed
// as the HTML Standard's event stream interpretation says.
type Events struct {
	Resp   *http.Response
	events chan Event
	ended  chan struct{}
}

// EventsRequest builds a GET of u as a browser's EventSource sends it from
// a page of the same origin.
func EventsRequest(t testing.TB, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Sec-Fetch-Mode", "cors")
	return req
}

// OpenEvents sends req on client (which should have no overall timeout)
// and returns the stream; a non-200 answer is returned with its body read
// and no events. The stream is closed when t ends.
func OpenEvents(t testing.TB, client *http.Client, req *http.Request) *Events {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", req.URL, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	s := &Events{Resp: resp, events: make(chan Event, 1000), ended: make(chan struct{})}
	if resp.StatusCode != http.StatusOK {
		close(s.ended)
		return s
	}
	go s.read()
	return s
}

func (s *Events) read() {
	defer close(s.ended)
	sc := bufio.NewScanner(s.Resp.Body)
	var ev Event
	var data []string
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if data != nil || ev.Name != "" {
				ev.Data = strings.Join(data, "\n")
				if ev.Name == "" {
					ev.Name = "message"
				}
				s.events <- ev
			}
			ev, data = Event{}, nil
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "":
			s.events <- Event{Comment: true, Data: value}
		case "event":
			ev.Name = value
		case "id":
			ev.ID = value
		case "data":
			data = append(data, value)
		}
	}
}

// Next returns the next event or comment; it fails t if the stream ends
// first or nothing comes within 10s (a bound for broken builds only).
func (s *Events) Next(t testing.TB) Event {
	t.Helper()
	select {
	case ev := <-s.events:
		return ev
	case <-s.ended:
		select {
		case ev := <-s.events:
			return ev
		default:
		}
		t.Fatal("the event stream ended, want an event")
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return Event{}
}

// Want skips comments and other events until one named name arrives, and
// returns it.
func (s *Events) Want(t testing.TB, name string) Event {
	t.Helper()
	for {
		if ev := s.Next(t); ev.Name == name {
			return ev
		}
	}
}

// Ended reports whether the stream has ended, waiting at most d.
func (s *Events) Ended(d time.Duration) bool {
	select {
	case <-s.ended:
		return true
	case <-time.After(d):
		return false
	}
}
