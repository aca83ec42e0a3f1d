package azstore

import "testing"

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
