// Package layout encodes this project's durable-task state in the exact
// shapes the Durable Task Framework's Azure Storage provider uses: the names
// of a task hub's tables, queues and blob containers, the PartitionKey and
// RowKey conventions, the Instances and History table rows, the history
// sentinel row, the offload of large values to gzip'd blobs and the JSON
// envelope of queue messages.
//
// Matching that layout byte for byte is what lets tools written for Durable
// Functions (Durable Functions Monitor, the Core Tools `func durable`
// commands, Storage Explorer habits) read task hubs written by this project.
//
// The package is pure encoding. The only I/O it performs goes through the
// BlobStore interface, which callers implement on top of Azure Blob Storage;
// table entities and queue messages are returned as values for the caller to
// send.
package layout

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Limits on names, as enforced by the Durable Task Framework. They are
// narrower than what Azure Storage itself accepts so that a hub or instance
// created here can also be used by the .NET implementation.
const (
	MinHubNameLength   = 3
	MaxHubNameLength   = 45
	MaxInstanceIDChars = 256
)

// ValidateHubName reports whether hub can name a task hub: ASCII letters and
// digits only, starting with a letter, 3 to 45 characters. The rules keep
// every derived name valid: table names must be alphanumeric, and queue and
// container names (which append at most "-largemessages") must stay within
// 63 characters.
func ValidateHubName(hub string) error {
	if n := len(hub); n < MinHubNameLength || n > MaxHubNameLength {
		return fmt.Errorf("invalid task hub name %q: must be %d to %d characters long, has %d bytes",
			hub, MinHubNameLength, MaxHubNameLength, n)
	}
	if !isASCIILetter(hub[0]) {
		return fmt.Errorf("invalid task hub name %q: must start with a letter", hub)
	}
	for i := 0; i < len(hub); i++ {
		if c := hub[i]; !isASCIILetter(c) && !('0' <= c && c <= '9') {
			return fmt.Errorf("invalid task hub name %q: must contain only letters and digits, found %q at byte %d",
				hub, rune(c), i)
		}
	}
	return nil
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// InstancesTable names the hub's Instances table. Table names are
// case-insensitive but case-preserving, so the hub name is used as given.
func InstancesTable(hub string) string { return hub + "Instances" }

// HistoryTable names the hub's History table.
func HistoryTable(hub string) string { return hub + "History" }

// PartitionsTable names the table used by the table-based partition manager.
func PartitionsTable(hub string) string { return hub + "Partitions" }

// ControlQueue names the control queue of a partition. Queue names must be
// lower case, hence the lowered hub name. partition is printed with at least
// two digits; hubs have at most 16 partitions.
func ControlQueue(hub string, partition int) string {
	return fmt.Sprintf("%s-control-%02d", strings.ToLower(hub), partition)
}

// WorkItemQueue names the queue that carries activity work items.
func WorkItemQueue(hub string) string { return strings.ToLower(hub) + "-workitems" }

// PoisonQueue names the queue where this project parks messages that cannot
// be decoded or processed, so that they stop being retried but remain
// available for inspection. It is not part of the .NET layout.
func PoisonQueue(hub string) string { return strings.ToLower(hub) + "-poison" }

// LargeMessagesContainer names the blob container holding offloaded table
// values and queue messages.
func LargeMessagesContainer(hub string) string { return strings.ToLower(hub) + "-largemessages" }

// LeasesContainer names the blob container used by the blob-lease partition
// manager (it holds taskhub.json).
func LeasesContainer(hub string) string { return strings.ToLower(hub) + "-leases" }

// ValidateInstanceID reports whether id can be used as an orchestration
// instance ID. The length limit counts UTF-16 code units, as .NET's
// string.Length does, because the limit comes from the .NET implementation.
// The forbidden characters are the ones Azure Table keys cannot hold; a
// leading '@' is reserved for entity IDs.
func ValidateInstanceID(id string) error {
	if id == "" {
		return errors.New("invalid instance ID: must not be empty")
	}
	if !utf8.ValidString(id) {
		return fmt.Errorf("invalid instance ID %q: must be valid UTF-8", id)
	}
	if n := utf16Len(id); n > MaxInstanceIDChars {
		return fmt.Errorf("invalid instance ID %.40q...: must be at most %d characters, has %d",
			id, MaxInstanceIDChars, n)
	}
	if id[0] == '@' {
		return fmt.Errorf("invalid instance ID %q: must not start with '@'", id)
	}
	for i, r := range id {
		switch {
		case r == '/' || r == '\\' || r == '?' || r == '#':
			return fmt.Errorf("invalid instance ID %q: must not contain %q (at byte %d)", id, r, i)
		case isControl(r):
			return fmt.Errorf("invalid instance ID %q: must not contain control character U+%04X (at byte %d)", id, r, i)
		}
	}
	return nil
}

// utf16Len counts the UTF-16 code units of s; bytes that are not valid UTF-8
// count as one unit each (they become U+FFFD on conversion).
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if utf16.RuneLen(r) == 2 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// isControl reports whether r is in Unicode category Cc, the set the Table
// service rejects in keys and the escaping below maps away.
func isControl(r rune) bool { return r <= 0x1F || 0x7F <= r && r <= 0x9F }

// NewInstanceID returns a random instance ID: a version 4 GUID written as 32
// lower-case hex digits without dashes, the form Durable Functions uses for
// instances started without an ID.
func NewInstanceID() string {
	var b [16]byte
	// crypto/rand.Read never returns an error on supported platforms (it
	// aborts the program instead), so there is nothing to handle.
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0F | 0x40 // version 4
	b[8] = b[8]&0x3F | 0x80 // RFC 4122 variant
	return hex.EncodeToString(b[:])
}

// randomHex8 returns 8 random hex digits, used to keep blob names unique.
func randomHex8() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// FNV-1a 32-bit parameters.
const (
	fnvOffsetBasis uint32 = 2166136261
	fnvPrime       uint32 = 16777619
)

// FNV1a32 returns the 32-bit FNV-1a hash of data. It is spelled out here
// rather than taken from hash/fnv so that the partitioning rule shared with
// the .NET implementation is visible in one place.
func FNV1a32(data []byte) uint32 {
	h := fnvOffsetBasis
	for _, b := range data {
		h ^= uint32(b)
		h *= fnvPrime
	}
	return h
}

// PartitionIndex returns the control-queue partition that owns instanceID:
// FNV-1a over the UTF-8 bytes of the whole ID, modulo count. Every worker and
// client must agree on this, including .NET ones sharing the hub.
// count must be at least 1; a smaller value is a configuration bug and
// panics.
func PartitionIndex(instanceID string, count int) int {
	if count < 1 {
		panic(fmt.Sprintf("layout.PartitionIndex: partition count must be at least 1, got %d", count))
	}
	return int(FNV1a32([]byte(instanceID)) % uint32(count))
}

// BlobPrefix returns the prefix shared by the blobs that hold offloaded
// table values of instanceID, which is what purging an instance deletes.
// Large queue messages are stored under the raw instance ID instead (as
// .NET does); the two prefixes differ only for IDs containing '^'.
func BlobPrefix(instanceID string) string { return EscapePartitionKey(instanceID) + "/" }

// Escape characters of the PartitionKey encoding.
const (
	escapeChar      = '^'
	controlEscapeAt = 0xC0 // a control character c is written as escapeChar, rune(0xC0+c)
)

// EscapePartitionKey turns an instance ID into the PartitionKey under which
// its Instances and History rows are stored. Azure Table keys cannot hold
// '/', '\', '#', '?' or control characters, so those are written as '^'
// followed by a substitute, and '^' itself is doubled. Bytes that are not
// valid UTF-8 are copied unchanged so that the mapping stays reversible for
// any string.
func EscapePartitionKey(id string) string {
	if !needsEscape(id) {
		return id
	}
	var sb strings.Builder
	sb.Grow(len(id) + 8)
	for i := 0; i < len(id); {
		r, size := utf8.DecodeRuneInString(id[i:])
		if r == utf8.RuneError && size == 1 {
			sb.WriteByte(id[i])
			i++
			continue
		}
		i += size
		switch {
		case r == escapeChar:
			sb.WriteString("^^")
		case r == '/':
			sb.WriteString("^0")
		case r == '\\':
			sb.WriteString("^1")
		case r == '#':
			sb.WriteString("^2")
		case r == '?':
			sb.WriteString("^3")
		case isControl(r):
			sb.WriteRune(escapeChar)
			sb.WriteRune(controlEscapeAt + r)
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

func needsEscape(id string) bool {
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case c == escapeChar, c == '/', c == '\\', c == '#', c == '?', c <= 0x1F, c == 0x7F:
			return true
		case c == 0xC2 && i+1 < len(id) && 0x80 <= id[i+1] && id[i+1] <= 0x9F:
			return true // U+0080..U+009F
		}
	}
	return false
}

// UnescapePartitionKey reverses EscapePartitionKey. It rejects keys that
// EscapePartitionKey cannot produce (a dangling or unknown escape, or a raw
// character that should have been escaped), so that a corrupt key is
// reported instead of silently mapped to a wrong instance ID.
func UnescapePartitionKey(key string) (string, error) {
	if !strings.ContainsRune(key, escapeChar) {
		if err := checkNoRawSpecials(key); err != nil {
			return "", err
		}
		return key, nil
	}
	var sb strings.Builder
	sb.Grow(len(key))
	for i := 0; i < len(key); {
		r, size := utf8.DecodeRuneInString(key[i:])
		if r == utf8.RuneError && size == 1 {
			sb.WriteByte(key[i])
			i++
			continue
		}
		if r != escapeChar {
			if r == '/' || r == '\\' || r == '#' || r == '?' || isControl(r) {
				return "", fmt.Errorf("unescape partition key %q: unescaped %q at byte %d", key, r, i)
			}
			sb.WriteRune(r)
			i += size
			continue
		}
		at := i
		i += size
		if i >= len(key) {
			return "", fmt.Errorf("unescape partition key %q: dangling '^' at the end", key)
		}
		e, esize := utf8.DecodeRuneInString(key[i:])
		i += esize
		switch {
		case e == escapeChar:
			sb.WriteRune(escapeChar)
		case e == '0':
			sb.WriteByte('/')
		case e == '1':
			sb.WriteByte('\\')
		case e == '2':
			sb.WriteByte('#')
		case e == '3':
			sb.WriteByte('?')
		case e >= controlEscapeAt && isControl(e-controlEscapeAt):
			sb.WriteRune(e - controlEscapeAt)
		default:
			return "", fmt.Errorf("unescape partition key %q: unknown escape sequence '^' %q at byte %d", key, e, at)
		}
	}
	return sb.String(), nil
}

func checkNoRawSpecials(key string) error {
	for i, r := range key {
		if r == '/' || r == '\\' || r == '#' || r == '?' || isControl(r) {
			return fmt.Errorf("unescape partition key %q: unescaped %q at byte %d", key, r, i)
		}
	}
	return nil
}

// rowKeyDigits is the width of a History RowKey.
const rowKeyDigits = 16

// RowKey returns the History table RowKey of the event with sequence number
// seq: 16 upper-case hex digits, so that the table's lexical order is the
// event order. seq must not be negative (it would not sort); a negative seq
// is a bug in the caller and panics.
func RowKey(seq int) string {
	if seq < 0 {
		panic(fmt.Sprintf("layout.RowKey: negative sequence number %d", seq))
	}
	return fmt.Sprintf("%016X", seq)
}

// ParseRowKey reverses RowKey. Lower-case hex digits are accepted too.
func ParseRowKey(rowKey string) (int, error) {
	if len(rowKey) != rowKeyDigits {
		return 0, fmt.Errorf("parse history row key %q: want %d hex digits, has %d characters",
			rowKey, rowKeyDigits, len(rowKey))
	}
	// With an explicit base 16, ParseUint accepts plain hex digits only (no
	// sign, "0x" prefix or underscores); bitSize 63 keeps the result an int.
	n, err := strconv.ParseUint(rowKey, 16, 63)
	if err != nil {
		return 0, fmt.Errorf("parse history row key %q: %w", rowKey, err)
	}
	return int(n), nil
}
