package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// bulkInsert writes many rows with multi-row INSERT statements. One
// statement per row pays the driver round trip and the statement setup for
// every row, which dominates ingest; a hundred rows per statement pays it
// once per hundred.
type bulkInsert struct {
	table       string
	cols        int
	rowsPerStmt int
	prefix      string // INSERT INTO t (a, b) VALUES
	suffix      string // ON CONFLICT ... or ""
	full        string // the statement for rowsPerStmt rows
}

// newBulkInsert prepares the statements for table. rowsPerStmt times the
// number of columns must stay under the driver's parameter limit (32766).
func newBulkInsert(table string, cols []string, suffix string, rowsPerStmt int) *bulkInsert {
	b := &bulkInsert{
		table:       table,
		cols:        len(cols),
		rowsPerStmt: rowsPerStmt,
		prefix:      "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ",
		suffix:      suffix,
	}
	b.full = b.query(rowsPerStmt)
	return b
}

// query returns the statement inserting rows rows.
func (b *bulkInsert) query(rows int) string {
	row := "(" + strings.Repeat("?, ", b.cols-1) + "?)"
	var sb strings.Builder
	sb.Grow(len(b.prefix) + rows*(len(row)+2) + len(b.suffix) + 1)
	sb.WriteString(b.prefix)
	for i := range rows {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(row)
	}
	if b.suffix != "" {
		sb.WriteString(" ")
		sb.WriteString(b.suffix)
	}
	return sb.String()
}

// exec inserts n rows in tx; appendRow appends the values of row i to args.
// It returns the number of rows the database reports inserted, which with
// ON CONFLICT DO NOTHING excludes the rows that were already there.
func (b *bulkInsert) exec(ctx context.Context, tx *sql.Tx, n int, appendRow func(args []any, i int) []any) (int64, error) {
	var total int64
	args := make([]any, 0, min(n, b.rowsPerStmt)*b.cols)
	run := func(stmt *sql.Stmt, query string, from, to int) error {
		args = args[:0]
		for i := from; i < to; i++ {
			args = appendRow(args, i)
		}
		var res sql.Result
		var err error
		if stmt != nil {
			res, err = stmt.ExecContext(ctx, args...)
		} else {
			res, err = tx.ExecContext(ctx, query, args...)
		}
		if err != nil {
			return err
		}
		k, err := res.RowsAffected()
		total += k
		return err
	}

	full := n / b.rowsPerStmt
	if full > 1 {
		stmt, err := tx.PrepareContext(ctx, b.full)
		if err != nil {
			return 0, fmt.Errorf("prepare insert: %w", err)
		}
		defer stmt.Close()
		for c := range full {
			if err := run(stmt, "", c*b.rowsPerStmt, (c+1)*b.rowsPerStmt); err != nil {
				return 0, err
			}
		}
	} else if full == 1 {
		if err := run(nil, b.full, 0, b.rowsPerStmt); err != nil {
			return 0, err
		}
	}
	if rest := n - full*b.rowsPerStmt; rest > 0 {
		if err := run(nil, b.query(rest), full*b.rowsPerStmt, n); err != nil {
			return 0, err
		}
	}
	return total, nil
}
