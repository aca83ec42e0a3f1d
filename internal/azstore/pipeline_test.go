package azstore

import (
	"net/http"
	"testing"
)

func TestBatchAnswerParsing(t *testing.T) {
	body := []byte("--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n" +
		"--changesetresponse_2\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 204 No Content\r\nETag: W/\"datetime'2026-01-01T00%3A00%3A00.1Z'\"\r\n\r\n" +
		"--changesetresponse_2\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 204 No Content\r\nETag: W/\"datetime'2026-01-01T00%3A00%3A00.2Z'\"\r\n\r\n" +
		"--changesetresponse_2--\r\n--batchresponse_1--\r\n")
	if e, ok := lastETag(body); !ok || e != `W/"datetime'2026-01-01T00%3A00%3A00.2Z'"` {
		t.Fatalf("etag %q %v", e, ok)
	}
	if code := failedBatchStatus(body); code != 0 {
		t.Fatalf("status %d for a successful batch", code)
	}
	failed := []byte("--changesetresponse_2\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 409 Conflict\r\n\r\n{}\r\n")
	if code := failedBatchStatus(failed); code != 409 {
		t.Fatalf("status %d, want 409", code)
	}
}

func TestRequestKinds(t *testing.T) {
	mk := func(method, url string, hdr map[string]string) *http.Request {
		r, _ := http.NewRequest(method, url, nil)
		for k, v := range hdr {
			r.Header[k] = []string{v}
		}
		return r
	}
	insert := mk("POST", "http://127.0.0.1:45201/devstoreaccount1/HubInstances", map[string]string{"DataServiceVersion": "3.0"})
	if !isTableRequest(insert, insert.URL.Host, insert.URL.Path) {
		t.Fatal("an entity insert on an emulator port is a table request")
	}
	blob := mk("PUT", "http://127.0.0.1:46883/devstoreaccount1/hub-largemessages/x.json.gz", map[string]string{"x-ms-blob-type": "BlockBlob"})
	if isTableRequest(blob, blob.URL.Host, blob.URL.Path) {
		t.Fatal("a blob upload is not a table request")
	}
}
