package flywheel

import (
	"math"
	"sort"
	"strconv"
)

// NamePattern is what every name (target, model family, version, symbol,
// feature, run id ...) must match: names become file names and Slurm job
// names, so no path separators, no leading dot, bounded length.
const NamePattern = `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`

// ValidName reports whether s matches NamePattern. It is a byte loop, not
// the regexp, because it runs on every field of every ingested record.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 128 || !alnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func alnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// CheckName returns an EInvalid error naming field when s is not a valid
// name; required says whether the empty string is an error.
func CheckName(field, s string, required bool) error {
	if s == "" {
		if required {
			return FieldError(field, "is required")
		}
		return nil
	}
	if !ValidName(s) {
		if len(s) > 128 {
			return FieldError(field, "is %d characters long; names have at most 128", len(s))
		}
		return FieldError(field, "%q does not match %s", s, NamePattern)
	}
	return nil
}

// CheckFinite returns an EInvalid error naming field when v is NaN or infinite.
func CheckFinite(field string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return FieldError(field, "must be a finite number")
	}
	return nil
}

// CheckFinitePtr is CheckFinite for an optional number.
func CheckFinitePtr(field string, v *float64) error {
	if v == nil {
		return nil
	}
	return CheckFinite(field, *v)
}

// checkNumberMap checks that every key is a name and every value finite,
// in key order so that the first error is reproducible.
func checkNumberMap(field string, m map[string]float64) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !ValidName(k) {
			return FieldError(field, "key %q does not match %s", k, NamePattern)
		}
		if err := CheckFinite(field+"."+k, m[k]); err != nil {
			return err
		}
	}
	return nil
}

// firstError returns the first non-nil error.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// indexField names element i of a list field: "fold_scores[3]".
func indexField(field string, i int) string {
	return field + "[" + strconv.Itoa(i) + "]"
}
