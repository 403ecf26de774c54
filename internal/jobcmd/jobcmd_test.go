package jobcmd

import (
	"os/exec"
	"slices"
	"testing"
)

func TestSplit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "python train.py --target {target}", want: []string{"python", "train.py", "--target", "{target}"}},
		{in: "  a\t b\n", want: []string{"a", "b"}},
		{in: `sh -c 'echo "$X" | tee out'`, want: []string{"sh", "-c", `echo "$X" | tee out`}},
		{in: `a "b c" d`, want: []string{"a", "b c", "d"}},
		{in: `a "x\"y\\z\q"`, want: []string{"a", `x"y\z\q`}},
		{in: `a\ b c`, want: []string{"a b", "c"}},
		{in: `'' x`, want: []string{"", "x"}},
		{in: `pre'mid'"post"`, want: []string{"premidpost"}},
		{in: "a \\\nb", want: []string{"a", "b"}},
		{in: "", want: nil},
		{in: `a 'b`, err: true},
		{in: `a "b`, err: true},
		{in: `a \`, err: true},
	}
	for _, tt := range tests {
		got, err := Split(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("Split(%q) error = %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Split(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestExpand(t *testing.T) {
	t.Parallel()
	tmpl, err := Parse(`python train.py --target {target} --family {model_family} --config-dir={config_dir} --tag "{job_id} x"`)
	if err != nil {
		t.Fatal(err)
	}
	got := tmpl.Expand(Vars{JobID: "j1", Target: "fwd_ret_5d", ModelFamily: "ridge", ConfigDir: "/etc/conf"})
	want := []string{"python", "train.py", "--target", "fwd_ret_5d", "--family", "ridge", "--config-dir=/etc/conf", "--tag", "j1 x"}
	if !slices.Equal(got, want) {
		t.Errorf("Expand = %q, want %q", got, want)
	}
	if _, err := Parse("   "); err == nil {
		t.Errorf("Parse of a blank template succeeded, want an error")
	}
}

// TestQuoteRoundTrip checks Quote against a real shell: what sh reads back
// must be the original string.
func TestQuoteRoundTrip(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh on PATH")
	}
	for _, s := range []string{"plain", "", "it's", "a b", `$HOME "x" \n`, "semi;colon", "fwd_ret_5d.AAPL-1"} {
		out, err := exec.Command("sh", "-c", "printf %s "+Quote(s)).Output()
		if err != nil {
			t.Fatalf("sh with %q: %v", s, err)
		}
		if string(out) != s {
			t.Errorf("sh read back %q as %q", s, out)
		}
	}
}

func FuzzSplit(f *testing.F) {
	for _, s := range []string{`a "b c"`, `'x'\ y`, "a\\\nb", `"\$"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := Split(s)
		if err != nil {
			return
		}
		// Quoting every word and splitting again gives the same words.
		var joined string
		for i, w := range words {
			if i > 0 {
				joined += " "
			}
			joined += Quote(w)
		}
		again, err := Split(joined)
		if err != nil {
			t.Fatalf("Split(%q) of quoted words: %v", joined, err)
		}
		if !slices.Equal(words, again) {
			t.Fatalf("round trip of %q: %q then %q", s, words, again)
		}
	})
}
