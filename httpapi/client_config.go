package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/flywheel-ml/flywheel"
	"github.com/flywheel-ml/flywheel/propagate"
)

// ApplyConfig applies an update document by hand; with dryRun the
// change comes back with its diff and nothing is written. The document
// is validated first, so that a mistake is reported with its field
// before anything is sent.
func (c *Client) ApplyConfig(ctx context.Context, doc propagate.UpdateDoc, dryRun bool) (flywheel.ConfigChange, error) {
	var out flywheel.ConfigChange
	if err := doc.Validate(); err != nil {
		return out, err
	}
	path := "/api/v1/config/apply"
	if dryRun {
		path += "?dry_run=true"
	}
	err := c.postJSON(ctx, path, doc, &out)
	return out, err
}

// ConfigChanges lists config changes newest first.
func (c *Client) ConfigChanges(ctx context.Context, f flywheel.ConfigChangeFilter) ([]flywheel.ConfigChange, error) {
	q := url.Values{}
	setParam(q, "target", f.Target)
	if len(f.States) > 0 {
		states := make([]string, len(f.States))
		for i, s := range f.States {
			states[i] = string(s)
		}
		q.Set("state", strings.Join(states, ","))
	}
	setLimit(q, f.Limit)
	var page configChangeList
	err := c.get(ctx, "/api/v1/config/changes", q, &page)
	return page.Changes, err
}

// ConfigChange returns one change with its diff, record, signals and
// insights.
func (c *Client) ConfigChange(ctx context.Context, id string) (propagate.ChangeDetail, error) {
	var d propagate.ChangeDetail
	err := c.get(ctx, "/api/v1/config/changes/"+url.PathEscape(id), nil, &d)
	return d, err
}

// changeAction posts a reason to one of a change's actions.
func (c *Client) changeAction(ctx context.Context, id, action, reason string) (flywheel.ConfigChange, error) {
	var out flywheel.ConfigChange
	err := c.postJSON(ctx, "/api/v1/config/changes/"+url.PathEscape(id)+"/"+action, wireReason{Reason: reason}, &out)
	return out, err
}

// ApproveConfigChange writes a proposed change, or promotes one in
// canary now.
func (c *Client) ApproveConfigChange(ctx context.Context, id, reason string) (flywheel.ConfigChange, error) {
	return c.changeAction(ctx, id, "approve", reason)
}

// RejectConfigChange turns down a proposed change.
func (c *Client) RejectConfigChange(ctx context.Context, id, reason string) (flywheel.ConfigChange, error) {
	return c.changeAction(ctx, id, "reject", reason)
}

// RollbackConfigChange undoes a change and quarantines it.
func (c *Client) RollbackConfigChange(ctx context.Context, id, reason string) (flywheel.ConfigChange, error) {
	return c.changeAction(ctx, id, "rollback", reason)
}

// ClearConfigQuarantine lets the loop apply a rolled-back update again.
func (c *Client) ClearConfigQuarantine(ctx context.Context, id, reason string) (flywheel.ConfigChange, error) {
	return c.changeAction(ctx, id, "quarantine/clear", reason)
}

// RollbackConfigToBaseline puts every config file back as it was before
// flywheel first changed it.
func (c *Client) RollbackConfigToBaseline(ctx context.Context, reason string) (propagate.RestoreResult, error) {
	var out propagate.RestoreResult
	err := c.postJSON(ctx, "/api/v1/config/rollback-baseline", wireReason{Reason: reason}, &out)
	return out, err
}

// RestoreConfigBackup puts the files of a backup back whole.
func (c *Client) RestoreConfigBackup(ctx context.Context, id, reason string) (propagate.RestoreResult, error) {
	var out propagate.RestoreResult
	err := c.postJSON(ctx, "/api/v1/config/backups/"+url.PathEscape(id)+"/restore", wireReason{Reason: reason}, &out)
	return out, err
}

// ConfigBackups lists backups newest first, without their contents.
func (c *Client) ConfigBackups(ctx context.Context, limit int) ([]propagate.BackupInfo, error) {
	q := url.Values{}
	setLimit(q, limit)
	var page backupList
	err := c.get(ctx, "/api/v1/config/backups", q, &page)
	return page.Backups, err
}

// Pins lists every pin.
func (c *Client) Pins(ctx context.Context) ([]flywheel.Pin, error) {
	var page pinList
	err := c.get(ctx, "/api/v1/pins", nil, &page)
	return page.Pins, err
}

// SetPin pins a value (written into its file); Value is text, parsed by
// the key's schema.
func (c *Client) SetPin(ctx context.Context, p flywheel.Pin) (flywheel.Pin, error) {
	value, err := json.Marshal(p.Value)
	if err != nil {
		return p, fmt.Errorf("encode pin: %w", err)
	}
	body := wirePin{File: p.File, Key: p.Key, Target: p.Target, Value: value, Reason: p.Reason}
	var out flywheel.Pin
	err = c.postJSON(ctx, "/api/v1/pins", body, &out)
	return out, err
}

// DeletePin removes a pin; the value stays in the file.
func (c *Client) DeletePin(ctx context.Context, file, target, key string) error {
	q := url.Values{}
	q.Set("file", file)
	q.Set("key", key)
	setParam(q, "target", target)
	return c.do(ctx, http.MethodDelete, "/api/v1/pins?"+q.Encode(), nil, 0, "", nil)
}
