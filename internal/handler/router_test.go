package handler

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/durable-go/durable/internal/app"
	"github.com/durable-go/durable/internal/config"
	"github.com/durable-go/durable/internal/durable"
)

// testApp builds an app without starting it: routing needs no storage.
func testApp(t *testing.T) *App {
	t.Helper()
	settings := config.NewSettings(map[string]string{"AzureWebJobsStorage": "UseDevelopmentStorage=true"}, false)
	host := &config.Host{Durable: config.DefaultDurableOptions()}
	a, err := app.New(app.Config{Settings: settings, Durable: host.Durable, Registry: durable.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return &App{App: a, Settings: settings, Host: host, Logger: slog.New(slog.DiscardHandler)}
}

func serve(t *testing.T, h http.Handler, method, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(`{"Data":{},"Metadata":{}}`)))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

func TestAppFunctionsAndRoutesNextToTheBuiltIns(t *testing.T) {
	own := map[string]http.Handler{"OrderQueue": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "order function")
	})}
	mine := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "own route "+r.URL.Path) })
	h, err := newRouter(testApp(t), own, mine)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ method, path, want string }{
		{"POST", "/OrderQueue", "order function"},
		{"POST", "/orderqueue", "order function"}, // the host's names are case-insensitive
		{"GET", "/api/orders", "own route /api/orders"},
		{"POST", "/api/orders", "own route /api/orders"},
	} {
		if code, body := serve(t, h, c.method, c.path); code != 200 || body != c.want {
			t.Errorf("%s %s: %d %q, want %q", c.method, c.path, code, body, c.want)
		}
	}
	if code, _ := serve(t, h, "GET", "/"); code != 200 {
		t.Errorf("the host's probe got %d", code)
	}
	// A built-in invocation still reaches the built-in function (which
	// answers an empty payload with its own error, not the app's route).
	if _, body := serve(t, h, "POST", "/StartNew"); strings.Contains(body, "own route") {
		t.Errorf("POST /StartNew reached the app's route: %s", body)
	}
	if _, err := newRouter(testApp(t), map[string]http.Handler{"Wake": mine}, nil); err == nil {
		t.Error("an app function named like a built-in was accepted")
	}
	h, _ = newRouter(testApp(t), nil, nil)
	if code, _ := serve(t, h, "GET", "/api/orders"); code != 404 {
		t.Errorf("without app routes, an unknown path got %d", code)
	}
}

func TestDashboardRoutes(t *testing.T) {
	h, err := newRouter(testApp(t), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := serve(t, h, "GET", "/durabletask/dashboard/"); code != 200 || !strings.Contains(body, `name="csrf-token"`) {
		t.Errorf("GET /durabletask/dashboard/: %d %.200s", code, body)
	}
	if code, _ := serve(t, h, "GET", "/durabletask/dashboard/static/app.js"); code != 200 {
		t.Errorf("the dashboard's script: %d", code)
	}
	// Without request forwarding, the host invokes the dashboard's
	// function with a payload; the page comes back in the http output.
	payload := `{"Data":{"req":{"Url":"http://localhost:7071/durabletask/dashboard/?code=k","Method":"GET","Headers":{}}},"Metadata":{}}`
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/DurableTaskDashboard", strings.NewReader(payload)))
	if b, _ := io.ReadAll(rec.Body); rec.Code != 200 || !strings.Contains(string(b), `csrf-token`) || !strings.Contains(string(b), `"statusCode":200`) {
		t.Errorf("POST /DurableTaskDashboard: %d %.300s", rec.Code, b)
	}
}
