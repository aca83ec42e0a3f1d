package layout

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// BlobStore is the blob container that holds a task hub's large values (see
// LargeMessagesContainer). It is the only way this package reaches the
// network; the storage backend implements it on Azure Blob Storage.
type BlobStore interface {
	// Upload creates or overwrites the blob name with data.
	Upload(ctx context.Context, name string, data []byte) error
	// Download returns the content of the blob name.
	Download(ctx context.Context, name string) ([]byte, error)
	// URL returns the absolute URL of the blob name, which the Instances
	// table stores in place of an offloaded value.
	URL(name string) string
}

// Size limits above which values leave their table column or queue message
// for a blob. Both leave headroom below the service limits (64 KiB per
// table property, 64 KiB per queue message after the queue client's base64
// encoding, which inflates 48 KiB to 64 KiB).
const (
	// MaxTableValueBytes is the largest table string value, measured in
	// UTF-16 bytes as the Table service measures it, kept inline.
	MaxTableValueBytes = 60 * 1024
	// MaxMessageBytes is the largest queue message, measured in UTF-8
	// bytes of its JSON, sent inline.
	MaxMessageBytes = 45 * 1024
)

// blobNameSuffix ends every column that names the blob holding the offloaded
// value of the column it prefixes ("Input" → "InputBlobName").
const blobNameSuffix = "BlobName"

// offloadable reports whether a string column may move to a blob. Keys,
// identifiers and enumerations stay inline whatever their size: queries and
// sentinel checks read them directly, and none of them can legitimately
// approach the limit.
func offloadable(col string) bool {
	switch col {
	case propPartitionKey, propRowKey, colExecutionID, colEventType, colRuntimeStatus,
		colOrchestrationStatus, colTaskHubName:
		return false
	}
	return !strings.HasSuffix(col, blobNameSuffix)
}

// tableValueTooLarge reports whether s exceeds MaxTableValueBytes in UTF-16.
func tableValueTooLarge(s string) bool {
	// Cheap pre-check: the UTF-16 size is at most twice the UTF-8 size.
	if 2*len(s) <= MaxTableValueBytes {
		return false
	}
	return 2*utf16Len(s) > MaxTableValueBytes
}

// offloadLargeValues moves every offloadable string column of e that is too
// large for the Table service into a gzip'd blob. blobName chooses the blob
// for a column; columnValue chooses what stays in the column (the History
// table leaves "", the Instances table the blob's URL). The blob's name is
// recorded in the "{column}BlobName" column. It returns the columns moved.
func offloadLargeValues(ctx context.Context, blobs BlobStore, e Entity,
	blobName func(col string) string, columnValue func(name string) string) (map[string]bool, error) {
	var moved map[string]bool
	for _, col := range e.sortedNames() {
		s, ok := e[col].(string)
		if !ok || !offloadable(col) || !tableValueTooLarge(s) {
			continue
		}
		name := blobName(col)
		if err := uploadGzip(ctx, blobs, name, []byte(s)); err != nil {
			return nil, fmt.Errorf("offload property %s (%d bytes): %w", col, len(s), err)
		}
		e[col] = columnValue(name)
		e[col+blobNameSuffix] = name
		if moved == nil {
			moved = make(map[string]bool)
		}
		moved[col] = true
	}
	return moved, nil
}

// resolveBlobValues returns a copy of e in which every column with a
// non-empty "{column}BlobName" holds the content of that blob instead of its
// placeholder. The caller's entity is not modified.
func resolveBlobValues(ctx context.Context, blobs BlobStore, e Entity) (Entity, error) {
	var out Entity
	for _, key := range e.sortedNames() {
		col, ok := strings.CutSuffix(key, blobNameSuffix)
		if !ok || col == "" {
			continue
		}
		name, ok := e[key].(string)
		if !ok || name == "" {
			continue
		}
		data, err := downloadGunzip(ctx, blobs, name)
		if err != nil {
			return nil, fmt.Errorf("load property %s: %w", col, err)
		}
		if out == nil {
			out = make(Entity, len(e))
			for k, v := range e {
				out[k] = v
			}
		}
		out[col] = string(data)
	}
	if out == nil {
		return e, nil
	}
	return out, nil
}

var errNoBlobStore = errors.New("no BlobStore configured for large values")

// uploadGzip stores data gzip-compressed as blob name.
func uploadGzip(ctx context.Context, blobs BlobStore, name string, data []byte) error {
	if blobs == nil {
		return fmt.Errorf("upload blob %s: %w", name, errNoBlobStore)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		return fmt.Errorf("compress blob %s: %w", name, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compress blob %s: %w", name, err)
	}
	if err := blobs.Upload(ctx, name, buf.Bytes()); err != nil {
		return fmt.Errorf("upload blob %s: %w", name, err)
	}
	return nil
}

// downloadGunzip fetches blob name and decompresses it. A blob that does not
// start with the gzip magic number is returned as is: JSON text never starts
// with those bytes, so the check is unambiguous, and it tolerates values
// stored uncompressed by other tools.
func downloadGunzip(ctx context.Context, blobs BlobStore, name string) ([]byte, error) {
	if blobs == nil {
		return nil, fmt.Errorf("download blob %s: %w", name, errNoBlobStore)
	}
	data, err := blobs.Download(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("download blob %s: %w", name, err)
	}
	if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		return data, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decompress blob %s: %w", name, err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("decompress blob %s: %w", name, err)
	}
	return out, nil
}

// BlobURLPath escapes a blob name for use in its URL the way .NET's
// Uri.EscapeDataString does, segment by segment: every byte but the
// unreserved characters (letters, digits, "-", ".", "_", "~") is
// percent-encoded, so that the Durable Task Framework recognizes the
// value of an Instances column as a blob URL even for instance IDs with
// spaces, "^" or non-ASCII text.
func BlobURLPath(name string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '/', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
