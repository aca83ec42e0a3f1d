package task_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/durable-go/durable/task"
	"github.com/durable-go/durable/tasktest"
)

// shapes has a method of every shape EntityFuncOf takes, and one it does
// not.
type shapes struct {
	N    int    `json:"n"`
	Last string `json:"last"`
}

func (s *shapes) Bump()                                   { s.N++ }
func (s *shapes) Add(n int) error                         { s.N += n; return nil }
func (s *shapes) Who(ctx *task.EntityContext) string      { s.Last = ctx.Operation(); return ctx.ID().Key }
func (s *shapes) Both(ctx *task.EntityContext, n int) int { s.N += n; return s.N }
func (s *shapes) Fail() (int, error)                      { s.N = 1000; return 0, errors.New("no") }
func (s *shapes) TooMany(a, b int)                        {}
func (s *shapes) Triple() (int, int, error)               { return 0, 0, nil }
func (s shapes) Peek() int                                { return s.N }

func TestEntityFuncOf(t *testing.T) {
	reg := task.NewRegistry()
	if err := reg.AddEntity("Shapes", task.EntityFuncOf[shapes]()); err != nil {
		t.Fatal(err)
	}
	e := task.EntityID{Name: "Shapes", Key: "k"}
	if err := reg.AddOrchestrator("Drive", func(ctx *task.OrchestrationContext) (any, error) {
		var out []string
		call := func(op string, in any) {
			var v any
			err := ctx.CallEntity(e, op, in).Await(&v)
			if err != nil {
				msg := err.Error()
				if i := strings.Index(msg, "failed: "); i >= 0 {
					msg = msg[i+len("failed: "):]
				}
				out = append(out, op+"!"+msg)
				return
			}
			out = append(out, op+"="+fmt.Sprint(v))
		}
		call("bump", nil)
		call("ADD", 2)
		call("who", nil)
		call("both", 3)
		call("fail", nil)
		call("peek", nil)
		call("toomany", nil)
		call("triple", nil)
		call("nope", nil)
		call("delete", nil)
		call("peek", nil)
		return out, nil
	}); err != nil {
		t.Fatal(err)
	}
	var out []string
	if err := tasktest.NewEnv(reg).Run("Drive", nil).Output(&out); err != nil {
		t.Fatal(err)
	}
	want := []string{"bump=<nil>", "ADD=<nil>", "who=k", "both=6", "fail!no", "peek=6",
		"toomany!operation \"toomany\": method task_test.shapes.TooMany takes more than an *EntityContext and an input",
		"triple!operation \"triple\": method task_test.shapes.Triple returns other than a result, an error, or a result and an error",
		"nope!unknown entity operation \"nope\": task_test.shapes has no such method", "delete=<nil>", "peek=0"}
	if strings.Join(out, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(out, "\n"), strings.Join(want, "\n"))
	}
}
