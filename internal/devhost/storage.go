package devhost

import (
	"errors"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
)

// Azurite's fixed development account, which UseDevelopmentStorage=true stands for.
const (
	devAccountName = "devstoreaccount1"
	// The well-known development storage key: public, the same in every emulator.
	devAccountKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	devQueueEndpoint  = "http://127.0.0.1:10001/devstoreaccount1"
	defaultEndpSuffix = "core.windows.net"
)

// storageAccount is what the dev host needs from a storage connection string to reach
// the queue service. The project's full connection resolver lives elsewhere; this one
// covers the forms local development uses.
type storageAccount struct {
	name          string
	key           string // empty with a SAS
	sas           string // without the leading '?'
	queueEndpoint string
}

// parseConnectionString reads "UseDevelopmentStorage=true" or an account connection string
// (AccountName/AccountKey with DefaultEndpointsProtocol and EndpointSuffix, or explicit
// QueueEndpoint, or a SharedAccessSignature).
func parseConnectionString(cs string) (storageAccount, error) {
	kv := map[string]string{}
	for part := range strings.SplitSeq(cs, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=") // values (keys, SAS) contain '=' themselves
		if !ok {
			return storageAccount{}, fmt.Errorf("connection string: %q is not key=value", redactPart(part))
		}
		kv[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	if strings.EqualFold(kv["usedevelopmentstorage"], "true") {
		return storageAccount{name: devAccountName, key: devAccountKey, queueEndpoint: devQueueEndpoint}, nil
	}
	a := storageAccount{
		name:          kv["accountname"],
		key:           kv["accountkey"],
		sas:           strings.TrimPrefix(kv["sharedaccesssignature"], "?"),
		queueEndpoint: strings.TrimSuffix(kv["queueendpoint"], "/"),
	}
	if a.queueEndpoint == "" {
		if a.name == "" {
			return storageAccount{}, errors.New("connection string has neither QueueEndpoint nor AccountName")
		}
		proto := kv["defaultendpointsprotocol"]
		if proto == "" {
			proto = "https"
		}
		suffix := kv["endpointsuffix"]
		if suffix == "" {
			suffix = defaultEndpSuffix
		}
		a.queueEndpoint = fmt.Sprintf("%s://%s.queue.%s", proto, a.name, suffix)
	}
	if a.key != "" && a.name == "" {
		return storageAccount{}, errors.New("connection string has AccountKey but no AccountName")
	}
	if a.key == "" && a.sas == "" {
		return storageAccount{}, errors.New("connection string has neither AccountKey nor SharedAccessSignature")
	}
	return a, nil
}

// redactPart keeps secrets out of error messages.
func redactPart(p string) string {
	if len(p) > 12 {
		return p[:12] + "…"
	}
	return p
}

// newQueueService returns a queue service client for the account. Retries are off because
// the poll loop already retries with back-off; SDK retries would only hide a stopped
// Azurite behind long pauses.
func newQueueService(a storageAccount) (*azqueue.ServiceClient, error) {
	opts := &azqueue.ClientOptions{}
	opts.Retry = policy.RetryOptions{MaxRetries: -1}
	if a.key != "" {
		cred, err := azqueue.NewSharedKeyCredential(a.name, a.key)
		if err != nil {
			return nil, fmt.Errorf("shared key credential for %s: %w", a.name, err)
		}
		c, err := azqueue.NewServiceClientWithSharedKeyCredential(a.queueEndpoint+"/", cred, opts)
		if err != nil {
			return nil, fmt.Errorf("queue service client for %s: %w", a.queueEndpoint, err)
		}
		return c, nil
	}
	c, err := azqueue.NewServiceClientWithNoCredential(a.queueEndpoint+"/?"+a.sas, opts)
	if err != nil {
		return nil, fmt.Errorf("queue service client for %s: %w", a.queueEndpoint, err)
	}
	return c, nil
}
