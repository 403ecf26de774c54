// Package jobcmd turns the user's command template into the argv and the
// environment of one training job, the same way for every executor: the
// training pipeline contract of DESIGN.md.
//
// The template is split like a POSIX shell splits words (quotes and
// backslashes) but is not run by a shell: no globbing, no variables, no
// pipes. A user who wants a shell writes `sh -c '...'` and gets one.
// Placeholders ({target}, {model_family}, {job_id}, {config_dir}) are
// replaced inside each word after splitting, so a value can never add or
// split words. The values are validated names (letters, digits, '.', '_',
// '-') or the configured config directory, so that even inside `sh -c`
// they carry no shell syntax.
package jobcmd

import (
	"fmt"
	"strings"
)

// Template is a split command template.
type Template []string

// Parse splits a command template into words.
func Parse(s string) (Template, error) {
	words, err := Split(s)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("command template %q is empty", s)
	}
	return Template(words), nil
}

// Split splits s into words like a POSIX shell: blanks separate words;
// single quotes keep everything literally; double quotes keep everything
// but a backslash before one of $ ` " \ or a newline; a backslash outside
// quotes escapes the next character.
func Split(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // a word has started, possibly empty ("")
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case c == '\\':
			if i+1 == len(s) {
				return nil, fmt.Errorf("command template ends with a backslash")
			}
			i++
			if s[i] != '\n' { // backslash-newline joins lines
				cur.WriteByte(s[i])
				in = true
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("command template has an unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			in = true
		case c == '"':
			n, err := doubleQuoted(s[i+1:], &cur)
			if err != nil {
				return nil, err
			}
			i += n
			in = true
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// doubleQuoted copies the inside of a double-quoted string to b and
// returns how many bytes of s it used, closing quote included.
func doubleQuoted(s string, b *strings.Builder) (int, error) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return i + 1, nil
		case '\\':
			if i+1 < len(s) && strings.IndexByte("$`\"\\\n", s[i+1]) >= 0 {
				i++
				if s[i] != '\n' {
					b.WriteByte(s[i])
				}
				continue
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return 0, fmt.Errorf("command template has an unterminated double quote")
}

// Vars are the values one job sees.
type Vars struct {
	JobID       string
	Target      string
	ModelFamily string
	ConfigDir   string
	// API and Token let the job report through the HTTP API.
	API   string
	Token string
	// Result is the path where the job may write its run JSON.
	Result string
}

// Expand returns the argv of one job: the template with its placeholders
// replaced.
func (t Template) Expand(v Vars) []string {
	r := strings.NewReplacer(
		"{target}", v.Target,
		"{model_family}", v.ModelFamily,
		"{job_id}", v.JobID,
		"{config_dir}", v.ConfigDir,
	)
	argv := make([]string, len(t))
	for i, w := range t {
		argv[i] = r.Replace(w)
	}
	return argv
}

// Env returns the contract's environment variables, as KEY=value.
func (v Vars) Env() []string {
	return []string{
		"FLYWHEEL_JOB_ID=" + v.JobID,
		"FLYWHEEL_API=" + v.API,
		"FLYWHEEL_TOKEN=" + v.Token,
		"FLYWHEEL_TARGET=" + v.Target,
		"FLYWHEEL_MODEL_FAMILY=" + v.ModelFamily,
		"FLYWHEEL_CONFIG_DIR=" + v.ConfigDir,
		"FLYWHEEL_RESULT=" + v.Result,
	}
}

// Quote returns s quoted for a POSIX shell, as one word.
func Quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
