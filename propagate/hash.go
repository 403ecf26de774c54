package propagate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/flywheel-ml/flywheel"
)

// ConfigHash returns a stable hash of the config that applies to target
// in the config directory dir: the target's own files, and the shared
// files without the other targets' target_specific entries. It hashes
// the data, not the bytes, so comments and layout do not change it, nor
// does a change made for another target. The training pipeline reports
// it in run.config["config_hash"], so that the loop measures which runs
// used a change instead of assuming they did.
func ConfigHash(dir, target string) (string, error) {
	if err := flywheel.CheckName("target", target, true); err != nil {
		return "", err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", fmt.Errorf("config hash: %w", err)
	}
	defer root.Close()
	return configHash(target, func(rel string) ([]byte, bool, error) {
		data, err := root.ReadFile(rel)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		}
		return data, err == nil, err
	})
}

// targetFiles lists the files that apply to target.
func targetFiles(target string) []string {
	return []string{FileLeakage, FileModels, FileRanking, FeatureSelectionFile(target), DataSamplingFile(target)}
}

func configHash(target string, read func(rel string) ([]byte, bool, error)) (string, error) {
	content := map[string]any{}
	for _, rel := range targetFiles(target) {
		data, ok, err := read(rel)
		if err != nil {
			return "", fmt.Errorf("config hash: read %s: %w", rel, err)
		}
		if !ok {
			continue
		}
		var v any
		if err := yaml.Unmarshal(data, &v); err != nil {
			return "", fmt.Errorf("config hash: %s is not valid YAML: %w", rel, err)
		}
		v = canonical(v)
		if m, ok := v.(map[string]any); ok {
			if ts, ok := m[keyTargetSpecific].(map[string]any); ok {
				// Another target's entry, or an empty section, says
				// nothing about this target.
				delete(m, keyTargetSpecific)
				if mine, has := ts[target]; has {
					m[keyTargetSpecific] = map[string]any{target: mine}
				}
			}
		}
		content[rel] = v
	}
	b, err := json.Marshal(content)
	if err != nil {
		return "", fmt.Errorf("config hash: %w", err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// canonical turns decoded YAML into JSON-encodable data: mappings with
// keys of any type become maps keyed by the keys' text.
func canonical(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = canonical(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = canonical(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = canonical(e)
		}
		return x
	case float64:
		if x != x || x > 1e308 || x < -1e308 {
			return fmt.Sprint(x) // NaN and infinities have no JSON number
		}
	}
	return v
}

// hashesAfter returns ConfigHash of each target as the files will be
// once the plan is written.
func (p *Propagator) hashesAfter(pl *plan, targets []string) (map[string]string, error) {
	read := func(rel string) ([]byte, bool, error) {
		if f, ok := pl.files[rel]; ok {
			switch {
			case f.remove:
				return nil, false, nil
			case f.dirty:
				return f.out, true, nil
			}
			return f.old, f.existed, nil
		}
		data, err := p.readFile(rel)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		}
		return data, err == nil, err
	}
	out := make(map[string]string, len(targets))
	for _, t := range targets {
		h, err := configHash(t, read)
		if err != nil {
			return nil, err
		}
		out[t] = h
	}
	return out, nil
}
