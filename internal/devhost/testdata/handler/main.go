// Command handler is a tiny custom handler for the dev host's end-to-end tests. It records
// every request it gets and answers according to the function name:
//
//	GET  /                      the start-up probe (recorded under "probe")
//	*    /api/echo/...          forwarded HTTP: echoes the request as JSON
//	GET  /api/inspect/{key}     forwarded HTTP: the recorded invocation bodies for key
//	POST /Hello                 payload HTTP: answers in the "res" output with what it got
//	POST /Ret                   payload HTTP: answers through ReturnValue
//	POST /Fail...               fails with HTTP 500
//	POST /{other}               succeeds with no outputs
package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
)

type recorder struct {
	mu   sync.Mutex
	seen map[string][]json.RawMessage
}

func (r *recorder) add(key string, v json.RawMessage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen[key] = append(r.seen[key], v)
}

func (r *recorder) get(key string) []json.RawMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]json.RawMessage{}, r.seen[key]...)
}

func main() {
	rec := &recorder{seen: map[string][]json.RawMessage{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		rec.add("probe", json.RawMessage(`{}`))
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/api/echo/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Handler", "forwarded")
		json.NewEncoder(w).Encode(map[string]string{
			"method":   r.Method,
			"path":     r.URL.Path,
			"query":    r.URL.RawQuery,
			"body":     string(body),
			"custom":   r.Header.Get("X-Custom"),
			"host":     r.Host,
			"setting":  os.Getenv("TEST_SETTING"),
			"override": os.Getenv("TEST_OVERRIDE"),
		})
	})
	mux.HandleFunc("GET /api/inspect/{key}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(rec.get(r.PathValue("key")))
	})
	mux.HandleFunc("POST /{function}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("function")
		body, _ := io.ReadAll(r.Body)
		rec.add(name, body)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case name == "Hello":
			json.NewEncoder(w).Encode(map[string]any{
				"Outputs": map[string]any{"res": map[string]any{
					"statusCode": 201,
					"body":       string(body),
					"headers":    map[string]string{"X-Handler": "payload"},
				}},
				"Logs": []string{"hello from handler"},
			})
		case name == "Ret":
			io.WriteString(w, `{"Outputs":{},"ReturnValue":{"statusCode":"202","body":{"ok":true}}}`)
		case strings.HasPrefix(name, "Fail"):
			http.Error(w, "boom", http.StatusInternalServerError)
		default:
			io.WriteString(w, `{"Outputs":{},"Logs":["handled `+name+`"],"ReturnValue":null}`)
		}
	})

	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT"))
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	log.Print("test handler stopped")
}
