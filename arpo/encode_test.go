package arpo

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/flywheel-ml/flywheel"
)

// TestEncoderComparesEveryField changes each field of each kind of entry
// the Encoder caches, in turn, and checks that the Encoder's comparison
// sees the change: a field it did not compare would leave a stale
// encoding in the stored insights.
func TestEncoderComparesEveryField(t *testing.T) {
	t.Parallel()
	at := base
	prev := 0.5
	k := key("fwd_ret_1d_A", "ridge")
	checkFields(t, ModelPerformance{ModelKey: k, ModelVersion: "v1", DeployedAt: &at, WindowStart: at, SharpeBenchmark: "x"}, samePerformance)
	checkFields(t, Underperformance{ModelKey: k, Reason: "r"}, sameUnderperformance)
	checkFields(t, PositionAdjustment{ModelKey: k, PreviousSize: &prev, State: "s", Reason: "r"}, sameAdjustment)
	checkFields(t, RetrainTarget{ModelKey: k, Kind: "k", Reasons: []flywheel.Reason{{Source: "s", Kind: "k", Message: "m", Values: map[string]float64{"a": 1}}}}, sameRetrain)
	checkFields(t, flywheel.Reason{Source: "s", Kind: "k", Message: "m", Values: map[string]float64{"a": 1}}, func(a, b *flywheel.Reason) bool {
		return sameRetrain(&RetrainTarget{Reasons: []flywheel.Reason{*a}}, &RetrainTarget{Reasons: []flywheel.Reason{*b}})
	})
}

// checkFields asserts that same(v, v) and that same(v, w) is false for
// every w that differs from v in one field.
func checkFields[T any](t *testing.T, v T, same func(a, b *T) bool) {
	t.Helper()
	if !same(&v, &v) {
		t.Fatalf("%T: a value differs from itself", v)
	}
	cp := v
	var walk func(rv reflect.Value, path string)
	walk = func(rv reflect.Value, path string) {
		for i := range rv.NumField() {
			f, sf := rv.Field(i), rv.Type().Field(i)
			if sf.Anonymous && f.Kind() == reflect.Struct {
				walk(f, path+sf.Name+".")
				continue
			}
			old := reflect.New(f.Type()).Elem()
			old.Set(f)
			mutate(t, f)
			if same(&v, &cp) {
				t.Errorf("%T: a change of %s%s goes unseen", v, path, sf.Name)
			}
			f.Set(old)
		}
	}
	walk(reflect.ValueOf(&cp).Elem(), "")
}

// mutate sets f to a value that encodes differently.
func mutate(t *testing.T, f reflect.Value) {
	t.Helper()
	switch {
	case f.Type() == reflect.TypeFor[time.Time]():
		f.Set(reflect.ValueOf(f.Interface().(time.Time).Add(time.Hour)))
		return
	case f.Type() == reflect.TypeFor[*time.Time]():
		at := base.Add(time.Hour)
		f.Set(reflect.ValueOf(&at))
		return
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(f.String() + "x")
	case reflect.Int:
		f.SetInt(f.Int() + 1)
	case reflect.Float64:
		f.SetFloat(f.Float() + 1)
	case reflect.Pointer:
		p := reflect.New(f.Type().Elem())
		if !f.IsNil() {
			p.Elem().Set(f.Elem())
		}
		mutate(t, p.Elem())
		f.Set(p)
	case reflect.Slice:
		f.Set(reflect.Append(f, reflect.New(f.Type().Elem()).Elem()))
	case reflect.Map:
		m := reflect.MakeMap(f.Type())
		m.SetMapIndex(reflect.ValueOf("other"), reflect.ValueOf(2.0))
		f.Set(m)
	default:
		t.Fatalf("no mutation for a field of kind %s", f.Kind())
	}
}

// TestEncoderMatchesMarshal encodes insights with empty and nil lists,
// which json.Marshal writes as [] and null, and a full pass's insights.
func TestEncoderMatchesMarshal(t *testing.T) {
	t.Parallel()
	now := base.AddDate(1, 0, 0).Add(22 * time.Hour)
	for name, in := range map[string]*Insights{
		"zero":          {},
		"empty":         learn(t, DefaultConfig(), Snapshot{Now: now}),
		"random models": learn(t, DefaultConfig(), randomSnapshot(4, 12, 80, now)),
	} {
		var enc Encoder
		for range 2 { // the second time from the cache
			got, err := enc.Encode(in)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("%s: Encoder\n%s\njson.Marshal\n%s", name, got, want)
			}
		}
	}
}
