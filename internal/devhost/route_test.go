package devhost

import (
	"maps"
	"strings"
	"testing"
)

func TestRouteMatch(t *testing.T) {
	for _, tc := range []struct {
		tmpl, path string
		want       map[string]string // nil: no match
	}{
		{"api/hello", "/api/hello", map[string]string{}},
		{"api/hello", "/API/Hello/", map[string]string{}}, // literals ignore case; trailing slash ok
		{"api/hello", "/api/hello/x", nil},
		{"api/hello", "/api", nil},
		{"api/orders/{id}", "/api/orders/42", map[string]string{"id": "42"}},
		{"api/orders/{id}", "/api/orders", nil},
		{"api/orders/{id}", "/api/orders/a%2Fb", map[string]string{"id": "a/b"}}, // encoded slash stays in its segment
		{"api/orders/{id}", "/api/orders/hello%20world", map[string]string{"id": "hello world"}},
		{"api/orders/{id?}", "/api/orders", map[string]string{}},
		{"api/orders/{id?}", "/api/orders/7", map[string]string{"id": "7"}},
		{"api/orders/{id=all}", "/api/orders", map[string]string{"id": "all"}},
		{"api/orders/{id:int}", "/api/orders/-12", map[string]string{"id": "-12"}},
		{"api/orders/{id:int}", "/api/orders/abc", nil},
		{"api/orders/{id:int?}", "/api/orders", map[string]string{}},
		{"api/orders/{id:alpha}", "/api/orders/abc", map[string]string{"id": "abc"}},
		{"api/orders/{id:alpha}", "/api/orders/ab1", nil},
		{"api/orders/{id:bool}", "/api/orders/True", map[string]string{"id": "True"}},
		{"api/orders/{id:guid}", "/api/orders/34ce9a28-a683-4d84-92ce-6a295f1a80e2", map[string]string{"id": "34ce9a28-a683-4d84-92ce-6a295f1a80e2"}},
		{"api/orders/{id:guid}", "/api/orders/nope", nil},
		{"api/orders/{id:regex(^\\d{{3}}$)}", "/api/orders/anything", map[string]string{"id": "anything"}}, // unchecked constraint
		{"api/files/{*path}", "/api/files/a/b/c.txt", map[string]string{"path": "a/b/c.txt"}},
		{"api/files/{*path}", "/api/files", map[string]string{}},
		{"api/files/{**path}", "/api/files/x", map[string]string{"path": "x"}},
		{"api/v{version}/items", "/api/v2/items", map[string]string{"version": "2"}},
		{"api/v{version}/items", "/api/v/items", nil},
		{"api/{name}.json", "/api/data.json", map[string]string{"name": "data"}},
		{"api/orchestrators/{functionName}/{instanceId?}", "/api/orchestrators/Hello", map[string]string{"functionName": "Hello"}},
		{"api/orchestrators/{functionName}/{instanceId?}", "/api/orchestrators/Hello/abc", map[string]string{"functionName": "Hello", "instanceId": "abc"}},
		{"{*all}", "/", map[string]string{}},
		{"", "/", map[string]string{}},
		{"", "/x", nil},
	} {
		rt, err := parseRoute(tc.tmpl)
		if err != nil {
			t.Errorf("parseRoute(%q): %v", tc.tmpl, err)
			continue
		}
		got, ok := rt.match(tc.path)
		switch {
		case tc.want == nil && ok:
			t.Errorf("%q matched %q with %v, want no match", tc.tmpl, tc.path, got)
		case tc.want != nil && !ok:
			t.Errorf("%q did not match %q, want %v", tc.tmpl, tc.path, tc.want)
		case tc.want != nil && !maps.Equal(got, tc.want):
			t.Errorf("%q on %q: params %v, want %v", tc.tmpl, tc.path, got, tc.want)
		}
	}
}

func TestParseRouteErrors(t *testing.T) {
	for _, tc := range []struct{ tmpl, wantErr string }{
		{"api/{*rest}/more", "catch-all"},
		{"api/{id}/{ID}", "twice"},
		{"api/{a}{b}", "one parameter"},
		{"api/{", "unbalanced"},
		{"api/}", "unbalanced"},
		{"api/{}", "without a name"},
		{"api//x", "empty segment"},
		{"api/x{id?}", "whole segment"},
	} {
		_, err := parseRoute(tc.tmpl)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("parseRoute(%q) = %v, want an error containing %q", tc.tmpl, err, tc.wantErr)
		}
	}
}

// A request that several routes match goes to the most specific one, whatever the order
// of the function folders.
func TestRoutePrecedence(t *testing.T) {
	mk := func(name, tmpl string) *function {
		rt, err := parseRoute(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		return &function{name: name, http: &httpTrigger{route: rt}}
	}
	fns := httpFunctions([]*function{
		mk("CatchAll", "api/{*rest}"),
		mk("Param", "api/orders/{id}"),
		mk("Int", "api/orders/{id:int}"),
		mk("Literal", "api/orders/special"),
		{name: "Timer"}, // not HTTP-triggered: left out
	})
	if len(fns) != 4 {
		t.Fatalf("httpFunctions kept %d functions, want the 4 HTTP ones", len(fns))
	}
	for _, tc := range []struct{ path, want string }{
		{"/api/orders/special", "Literal"},
		{"/api/orders/12", "Int"},
		{"/api/orders/abc", "Param"},
		{"/api/other/thing", "CatchAll"},
	} {
		got := ""
		for _, fn := range fns {
			if _, ok := fn.http.route.match(tc.path); ok {
				got = fn.name
				break
			}
		}
		if got != tc.want {
			t.Errorf("%s went to %q, want %q", tc.path, got, tc.want)
		}
	}
}
