// Package config loads the flywheel daemon's own configuration: a YAML
// file with defaults, environment overrides and validation that names the
// offending field.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/arpo"
	"github.com/flywheel-ml/flywheel/cils"
	"github.com/flywheel-ml/flywheel/orchestrator"
)

// Default values.
const (
	DefaultListen       = "127.0.0.1:8080"
	DefaultDB           = "flywheel.db"
	DefaultMaxBodyBytes = 64 << 20
	// DefaultLearnInterval is how often the learners run unprompted.
	DefaultLearnInterval = 5 * time.Minute
	// DefaultKeepInsights is how many versions of each learner's insights
	// are kept besides the cited ones: about 100 MB of ARPO's at 1,000
	// models.
	DefaultKeepInsights = 100
	minSecretLen        = 16
)

// Config is the daemon's configuration.
type Config struct {
	// Listen is the address the API and dashboard listen on.
	Listen string `yaml:"listen"`
	// DB is the path of the SQLite learning database.
	DB  string    `yaml:"db"`
	Log LogConfig `yaml:"log"`
	API APIConfig `yaml:"api"`
	// Tokens guard the API. With none, the daemon only listens on loopback.
	Tokens []Token `yaml:"tokens"`
	// Learners configures the learners the daemon runs.
	Learners LearnersConfig `yaml:"learners"`
	// Orchestrator holds the decision weights, the scheduler's limits and
	// the budget (see package orchestrator).
	Orchestrator orchestrator.Config `yaml:"orchestrator"`
	// PipelineConfigDir is the training pipeline's config directory, which
	// jobs are given as {config_dir} and $FLYWHEEL_CONFIG_DIR.
	PipelineConfigDir string `yaml:"pipeline_config_dir"`
	// Executor runs the admitted jobs.
	Executor ExecutorConfig `yaml:"executor"`
}

// Executor kinds.
const (
	ExecutorNone  = "none"
	ExecutorLocal = "local"
	ExecutorSlurm = "slurm"
)

// ExecutorConfig says where and how admitted jobs run.
type ExecutorConfig struct {
	// Kind is none (jobs wait in admitted), local (child processes of the
	// daemon) or slurm.
	Kind string `yaml:"kind"`
	// Command is the training command template: {target}, {model_family},
	// {job_id} and {config_dir} are replaced; the job also gets the
	// FLYWHEEL_* environment variables.
	Command string `yaml:"command"`
	// StateDir holds a directory per job (logs, result file).
	StateDir string `yaml:"state_dir"`
	// MaxConcurrent bounds the local executor's processes (0: the CPUs).
	MaxConcurrent int `yaml:"max_concurrent"`
	// API is the URL jobs report to; empty means the daemon's own address.
	API string `yaml:"api"`
	// TokenEnv names the environment variable holding the token jobs get.
	TokenEnv string `yaml:"token_env"`
	// PollInterval is the time between the runner's rounds.
	PollInterval time.Duration `yaml:"poll_interval"`
	// HeartbeatTimeout is how long a job may go without a sign of life.
	HeartbeatTimeout time.Duration `yaml:"heartbeat_timeout"`
	// Retry is the retry policy by failure class.
	Retry flywheel.RetryPolicy `yaml:"retry"`
	// Slurm configures the slurm kind.
	Slurm SlurmConfig `yaml:"slurm"`
}

// SlurmConfig configures the Slurm executor.
type SlurmConfig struct {
	Partition string   `yaml:"partition"`
	Account   string   `yaml:"account"`
	ExtraArgs []string `yaml:"extra_args"`
	// SlurmConf is passed to the Slurm commands as SLURM_CONF.
	SlurmConf string `yaml:"slurm_conf"`
}

// LearnersConfig configures when the learners run and their thresholds.
type LearnersConfig struct {
	// Interval is how often the learners look for new data when nothing
	// woke them; records arriving wake them at once.
	Interval time.Duration `yaml:"interval"`
	// CILS holds the training-side learner's thresholds (see package cils).
	CILS cils.Config `yaml:"cils"`
	// ARPO holds the portfolio-side learner's thresholds (see package arpo).
	ARPO arpo.Config `yaml:"arpo"`
	// Market names the market index whose daily returns feed ARPO's regime
	// model: a wide price CSV and its column. Without it ARPO uses the
	// regime labels on the live observations.
	Market MarketConfig `yaml:"market"`
	// KeepInsights is how many of each learner's latest insight versions
	// the database keeps, besides every version a signal or config change
	// cites; 0 keeps them all. A version of ARPO's insights is about a
	// kilobyte a model.
	KeepInsights int `yaml:"keep_insights"`
}

// MarketConfig locates the market index's prices.
type MarketConfig struct {
	// Prices is a wide price CSV (a date column, one column per asset),
	// read afresh on every ARPO pass so that a daily update is seen.
	Prices string `yaml:"prices"`
	// Column is the asset to use.
	Column string `yaml:"column"`
}

// LogConfig sets the structured log's level and format.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// APIConfig holds limits of the HTTP API.
type APIConfig struct {
	// MaxBodyBytes bounds a request body; larger bodies get 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

// Token is a bearer token with a role. The secret is given inline or,
// better, read from the environment variable named by SecretEnv.
type Token struct {
	Name      string `yaml:"name"`
	Role      string `yaml:"role"`
	Secret    string `yaml:"secret"`
	SecretEnv string `yaml:"secret_env"`
}

// Roles a token may have.
var Roles = []string{"read", "report", "operate", "admin"}

// Default returns the configuration used when no file is given.
func Default() Config {
	return Config{
		Listen: DefaultListen,
		DB:     DefaultDB,
		Log:    LogConfig{Level: "info", Format: "text"},
		API:    APIConfig{MaxBodyBytes: DefaultMaxBodyBytes},
		Learners: LearnersConfig{
			Interval:     DefaultLearnInterval,
			KeepInsights: DefaultKeepInsights,
			CILS:         cils.DefaultConfig(),
			ARPO:         arpo.DefaultConfig(),
		},
		Orchestrator:      orchestrator.DefaultConfig(),
		PipelineConfigDir: "CONFIG",
		Executor: ExecutorConfig{
			Kind:             ExecutorNone,
			StateDir:         "flywheel-jobs",
			PollInterval:     5 * time.Second,
			HeartbeatTimeout: 10 * time.Minute,
		},
	}
}

// Load reads the file at path (none when path is empty) over the
// defaults, applies environment overrides from getenv, then the overrides
// (command-line flags), and validates the result. Every problem is
// reported, each naming its field.
func Load(path string, getenv func(string) string, overrides ...func(*Config)) (Config, error) {
	cfg := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("read config: %w", err)
		}
		if err := Parse(data, &cfg); err != nil {
			return Config{}, fmt.Errorf("%s: %w", path, err)
		}
	}
	if err := cfg.applyEnv(getenv); err != nil {
		return Config{}, err
	}
	for _, o := range overrides {
		o(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		if path != "" {
			return Config{}, fmt.Errorf("%s: %w", path, err)
		}
		return Config{}, err
	}
	return cfg, nil
}

// Parse decodes YAML into cfg, refusing unknown fields and wrong types
// with the line they are on.
func Parse(data []byte, cfg *Config) error {
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return describeYAMLError(err)
	}
	if len(file.Docs) == 0 || file.Docs[0].Body == nil {
		return nil // a file of comments keeps every default
	}
	if len(file.Docs) > 1 {
		return errors.New("holds more than one YAML document")
	}
	if err := yaml.NodeToValue(file.Docs[0].Body, cfg, yaml.DisallowUnknownField(), yaml.Strict()); err != nil {
		return describeYAMLError(err)
	}
	return nil
}

// describeYAMLError names the key a decoding error is about: the decoder
// reports a type mismatch against the Go struct, which means nothing to
// someone reading the YAML.
func describeYAMLError(err error) error {
	var yerr yaml.Error
	if !errors.As(err, &yerr) || yerr.GetToken() == nil || yerr.GetToken().Position == nil {
		return err
	}
	tk := yerr.GetToken()
	msg := yerr.GetMessage()
	var terr *yaml.TypeError
	if errors.As(err, &terr) {
		msg = fmt.Sprintf("%q is not %s", tk.Value, kindName(terr.DstType))
	}
	if key := keyOf(tk); key != "" && !strings.Contains(msg, key) {
		msg = key + ": " + msg
	}
	return fmt.Errorf("line %d: %s", tk.Position.Line, msg)
}

// keyOf returns the mapping key a value token belongs to, if any.
func keyOf(tk *token.Token) string {
	p := tk.Prev
	if p == nil || p.Type != token.MappingValueType || p.Prev == nil {
		return ""
	}
	return p.Prev.Value
}

// Environment variables that override the file.
const (
	EnvListen       = "FLYWHEEL_LISTEN"
	EnvDB           = "FLYWHEEL_DB"
	EnvLogLevel     = "FLYWHEEL_LOG_LEVEL"
	EnvLogFormat    = "FLYWHEEL_LOG_FORMAT"
	EnvMaxBodyBytes = "FLYWHEEL_MAX_BODY_BYTES"
)

func (c *Config) applyEnv(getenv func(string) string) error {
	if getenv == nil {
		return nil
	}
	for _, o := range []struct {
		env string
		dst *string
	}{{EnvListen, &c.Listen}, {EnvDB, &c.DB}, {EnvLogLevel, &c.Log.Level}, {EnvLogFormat, &c.Log.Format}} {
		if v := getenv(o.env); v != "" {
			*o.dst = v
		}
	}
	if v := getenv(EnvMaxBodyBytes); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%s: %q is not a whole number of bytes", EnvMaxBodyBytes, v)
		}
		c.API.MaxBodyBytes = n
	}
	for i := range c.Tokens {
		t := &c.Tokens[i]
		if t.SecretEnv != "" && t.Secret == "" {
			t.Secret = getenv(t.SecretEnv)
		}
	}
	return nil
}

// Validate checks every field and returns all problems joined, each
// prefixed with the field's path.
func (c *Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		add("listen", "%q is not host:port (%v)", c.Listen, err)
	} else if len(c.Tokens) == 0 && !IsLoopback(host) {
		add("listen", "%q is not a loopback address and no tokens are configured: add tokens, or listen on 127.0.0.1", c.Listen)
	}
	if strings.TrimSpace(c.DB) == "" {
		add("db", "is required")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		add("log.format", "%q is not one of text, json", c.Log.Format)
	}
	if c.API.MaxBodyBytes < 1<<10 || c.API.MaxBodyBytes > 1<<30 {
		add("api.max_body_bytes", "%d is outside [1024, 1073741824]", c.API.MaxBodyBytes)
	}
	if c.Learners.Interval < time.Second {
		add("learners.interval", "%s is under one second", c.Learners.Interval)
	}
	if c.Learners.KeepInsights < 0 {
		add("learners.keep_insights", "%d is negative; 0 keeps every version", c.Learners.KeepInsights)
	}
	if err := c.Learners.CILS.Validate(); err != nil {
		errs = append(errs, prefixField("learners.cils", err))
	}
	if err := c.Learners.ARPO.Validate(); err != nil {
		errs = append(errs, prefixField("learners.arpo", err))
	}
	if err := c.Orchestrator.Validate(); err != nil {
		errs = append(errs, prefixField("orchestrator", err))
	}
	c.validateExecutor(add)
	if m := c.Learners.Market; (m.Prices == "") != (m.Column == "") {
		add("learners.market", "needs both prices and column")
	}
	names := map[string]bool{}
	secrets := map[string]string{}
	for i, t := range c.Tokens {
		field := fmt.Sprintf("tokens[%d]", i)
		if !flywheel.ValidName(t.Name) {
			add(field+".name", "%q does not match %s", t.Name, flywheel.NamePattern)
		} else if names[t.Name] {
			add(field+".name", "%q is used by another token", t.Name)
		}
		names[t.Name] = true
		if !validRole(t.Role) {
			add(field+".role", "%q is not one of %s", t.Role, strings.Join(Roles, ", "))
		}
		switch {
		case t.Secret == "" && t.SecretEnv != "":
			add(field+".secret_env", "environment variable %s is empty or unset", t.SecretEnv)
		case t.Secret == "":
			add(field+".secret", "is required (or set secret_env)")
		case len(t.Secret) < minSecretLen:
			add(field+".secret", "is %d characters; use at least %d", len(t.Secret), minSecretLen)
		case secrets[t.Secret] != "":
			add(field+".secret", "is the same as the secret of token %q", secrets[t.Secret])
		default:
			secrets[t.Secret] = t.Name
		}
	}
	return errors.Join(errs...)
}

func validRole(r string) bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// IsLoopback reports whether host names only this machine: "localhost" or
// a loopback IP. An empty host (all interfaces) is not loopback.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// kindName says what a YAML value must look like to fill a Go type.
func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	default:
		return "a mapping"
	}
}

// prefixField nests a learner's field error under its section.
func prefixField(prefix string, err error) error {
	var fe *flywheel.Error
	if errors.As(err, &fe) && fe.Field != "" {
		return fmt.Errorf("%s.%s: %s", prefix, fe.Field, fe.Message)
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

func (c *Config) validateExecutor(add func(field, format string, args ...any)) {
	x := c.Executor
	switch x.Kind {
	case ExecutorNone:
		return
	case ExecutorLocal, ExecutorSlurm:
	default:
		add("executor.kind", "%q is not one of none, local, slurm", x.Kind)
		return
	}
	if strings.TrimSpace(x.Command) == "" {
		add("executor.command", "is required with executor %s", x.Kind)
	}
	if x.StateDir == "" {
		add("executor.state_dir", "is required with executor %s", x.Kind)
	}
	if strings.TrimSpace(c.PipelineConfigDir) == "" {
		add("pipeline_config_dir", "is required with executor %s", x.Kind)
	}
	if x.MaxConcurrent < 0 {
		add("executor.max_concurrent", "must not be negative")
	}
	if x.PollInterval < 10*time.Millisecond {
		add("executor.poll_interval", "%s is under 10ms", x.PollInterval)
	}
	if x.HeartbeatTimeout < time.Second {
		add("executor.heartbeat_timeout", "%s is under one second", x.HeartbeatTimeout)
	}
}
