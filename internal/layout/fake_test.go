package layout

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// memBlobs is an in-memory BlobStore for tests.
type memBlobs struct {
	mu    sync.Mutex
	blobs map[string][]byte
	// failUpload, when set, makes Upload fail.
	failUpload error
}

func newMemBlobs() *memBlobs { return &memBlobs{blobs: make(map[string][]byte)} }

func (m *memBlobs) Upload(ctx context.Context, name string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failUpload != nil {
		return m.failUpload
	}
	m.blobs[name] = slices.Clone(data)
	return nil
}

func (m *memBlobs) Download(ctx context.Context, name string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	data, ok := m.blobs[name]
	if !ok {
		return nil, fmt.Errorf("blob %s: not found", name)
	}
	return slices.Clone(data), nil
}

func (m *memBlobs) URL(name string) string {
	return "https://account.blob.core.windows.net/hub-largemessages/" + name
}

func (m *memBlobs) names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.blobs))
}

func (m *memBlobs) get(name string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.blobs[name]
}
