package task

import (
	"fmt"
	"reflect"
	"strings"
)

// EntityFuncOf makes an EntityFunc of a state type T, usually a struct, as
// Durable Functions' class-based entities do: the operation op calls the
// method of *T whose name is op, ignoring case, on the entity's state (T's
// zero value when it has none), and the state is stored again once the
// method succeeds. A method may take an *EntityContext and then an input
// (decoded from the operation's JSON input), either or both or neither,
// and may return a result, an error, both (result first) or nothing. An
// operation that names no such method fails with ErrUnknownOperation, but
// "delete", when T has no Delete method, deletes the state. A method of
// another shape is no operation: calling it fails, saying why.
func EntityFuncOf[T any]() EntityFunc {
	ops := map[string]entityMethod{}
	typ := reflect.TypeFor[*T]()
	for i := range typ.NumMethod() {
		m := typ.Method(i)
		ops[strings.ToLower(m.Name)] = newEntityMethod(m)
	}
	return func(ctx *EntityContext) (any, error) {
		m, ok := ops[strings.ToLower(ctx.Operation())]
		if !ok {
			if strings.EqualFold(ctx.Operation(), "delete") {
				ctx.DeleteState()
				return nil, nil
			}
			return nil, fmt.Errorf("%w %q: %s has no such method", ErrUnknownOperation, ctx.Operation(), typ.Elem())
		}
		if m.bad != "" {
			return nil, fmt.Errorf("operation %q: method %s.%s %s", ctx.Operation(), typ.Elem(), m.m.Name, m.bad)
		}
		state := new(T)
		if err := ctx.GetState(state); err != nil {
			return nil, err
		}
		result, err := m.call(ctx, reflect.ValueOf(state))
		if err != nil {
			return nil, err
		}
		if err := ctx.SetState(state); err != nil {
			return nil, err
		}
		return result, nil
	}
}

// entityMethod is a method of an EntityFuncOf state type.
type entityMethod struct {
	m reflect.Method
	// withContext and input say what the method takes after its receiver;
	// input is nil when it takes none.
	withContext bool
	input       reflect.Type
	// result and failure index the method's result and error among its
	// results; -1 when it has none.
	result, failure int
	// bad says why the method is no operation; "" when it is one.
	bad string
}

var (
	contextType = reflect.TypeFor[*EntityContext]()
	errorType   = reflect.TypeFor[error]()
)

func newEntityMethod(m reflect.Method) entityMethod {
	em := entityMethod{m: m, result: -1, failure: -1}
	in := m.Type.NumIn() - 1 // the receiver first
	next := 1
	if in > 0 && m.Type.In(next) == contextType {
		em.withContext = true
		next++
	}
	if next <= in {
		em.input = m.Type.In(next)
		next++
	}
	if next <= in {
		em.bad = "takes more than an *EntityContext and an input"
	}
	switch out := m.Type.NumOut(); {
	case out == 1 && m.Type.Out(0) == errorType:
		em.failure = 0
	case out == 1:
		em.result = 0
	case out == 2 && m.Type.Out(1) == errorType:
		em.result, em.failure = 0, 1
	case out > 0:
		em.bad = "returns other than a result, an error, or a result and an error"
	}
	return em
}

// call runs the method on state with the operation's context and input.
func (em entityMethod) call(ctx *EntityContext, state reflect.Value) (any, error) {
	args := []reflect.Value{state}
	if em.withContext {
		args = append(args, reflect.ValueOf(ctx))
	}
	if em.input != nil {
		v := reflect.New(em.input)
		if err := ctx.GetInput(v.Interface()); err != nil {
			return nil, fmt.Errorf("operation %q: %w", ctx.Operation(), err)
		}
		args = append(args, v.Elem())
	}
	out := em.m.Func.Call(args)
	if em.failure >= 0 && !out[em.failure].IsNil() {
		return nil, out[em.failure].Interface().(error)
	}
	if em.result >= 0 {
		return out[em.result].Interface(), nil
	}
	return nil, nil
}
