package azstore

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/durable-go/durable/internal/layout"
)

// blobStore keeps large payloads in the hub's large-message container.
type blobStore struct {
	client    *azblob.Client
	container string
}

func (b *blobStore) Upload(ctx context.Context, name string, data []byte) error {
	if _, err := b.client.UploadBuffer(ctx, b.container, name, data, nil); err != nil {
		return fmt.Errorf("upload blob %s/%s: %w", b.container, name, err)
	}
	return nil
}

func (b *blobStore) Download(ctx context.Context, name string) ([]byte, error) {
	resp, err := b.client.DownloadStream(ctx, b.container, name, nil)
	if err != nil {
		return nil, fmt.Errorf("download blob %s/%s: %w", b.container, name, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read blob %s/%s: %w", b.container, name, err)
	}
	return data, nil
}

func (b *blobStore) URL(name string) string {
	return strings.TrimSuffix(b.client.URL(), "/") + "/" + b.container + "/" + layout.BlobURLPath(name)
}

// deletePrefix removes every blob whose name starts with prefix (one
// instance's payloads) and returns how many it removed.
func (b *blobStore) deletePrefix(ctx context.Context, prefix string) (int, error) {
	n := 0
	pager := b.client.NewListBlobsFlatPager(b.container, &azblob.ListBlobsFlatOptions{Prefix: &prefix})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if bloberror.HasCode(err, bloberror.ContainerNotFound) {
				return n, nil
			}
			return n, fmt.Errorf("list blobs %s/%s*: %w", b.container, prefix, err)
		}
		for _, item := range page.Segment.BlobItems {
			if item.Name == nil {
				continue
			}
			if _, err := b.client.DeleteBlob(ctx, b.container, *item.Name, nil); err != nil && !bloberror.HasCode(err, bloberror.BlobNotFound) {
				return n, fmt.Errorf("delete blob %s/%s: %w", b.container, *item.Name, err)
			}
			n++
		}
	}
	return n, nil
}

// DeleteInstanceBlobs removes an instance's large payloads. History and
// instance values live under the escaped ID; queue messages under the raw
// ID, as the provider names them.
func (h *Hub) DeleteInstanceBlobs(ctx context.Context, instanceID string) (int, error) {
	n, err := h.blobs.deletePrefix(ctx, layout.BlobPrefix(instanceID))
	if err != nil {
		return n, err
	}
	if raw := instanceID + "/"; raw != layout.BlobPrefix(instanceID) {
		m, err := h.blobs.deletePrefix(ctx, raw)
		return n + m, err
	}
	return n, nil
}
