package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
)

// Storage holds clients for the three services of one storage account, all
// authenticated the same way.
type Storage struct {
	// Tables is the table service (instances, history, partitions).
	Tables *aztables.ServiceClient
	// Queues is the queue service (control and work-item queues).
	Queues *azqueue.ServiceClient
	// Blobs is the blob service (large payloads, leases).
	Blobs *azblob.Client
	// AccountName is the storage account's name, for logs and diagnostics;
	// it may be empty when only custom endpoints were given.
	AccountName string
	// Emulator is true for the local storage emulator (UseDevelopmentStorage
	// or a loopback endpoint), whose behaviour differs in small ways callers
	// may need to allow for.
	Emulator bool
}

// ClientOptions customizes the HTTP pipelines of the three storage clients.
// The same options go to each client, so a policy sees every request the
// storage layer makes.
type ClientOptions struct {
	// PerCallPolicies run once per operation, before retries; a request
	// counter belongs here.
	PerCallPolicies []policy.Policy
	// PerRetryPolicies, when set, returns the policies that run on every
	// attempt of a request to service ("table", "queue" or "blob"), after
	// the SDK's retry policy: a counter of HTTP requests by service belongs
	// here. Nil entries are skipped.
	PerRetryPolicies func(service string) []policy.Policy
	// Retry replaces the SDK's default retry options when non-nil.
	Retry *policy.RetryOptions
	// Transport sends the requests; nil means the SDK's default HTTP client.
	// It is also used by identity credentials to fetch tokens.
	Transport policy.Transporter
}

// coreOptions returns a fresh azcore.ClientOptions. Each client gets its own copy
// of the policy slice because the SDK appends to it while building a
// pipeline, and a shared backing array could then leak one client's policies
// into another's.
func (o ClientOptions) coreOptions(service string) azcore.ClientOptions {
	c := azcore.ClientOptions{
		PerCallPolicies: slices.Clone(o.PerCallPolicies),
		Transport:       o.Transport,
	}
	if o.PerRetryPolicies != nil {
		for _, p := range o.PerRetryPolicies(service) {
			if p != nil {
				c.PerRetryPolicies = append(c.PerRetryPolicies, p)
			}
		}
	}
	if o.Retry != nil {
		c.Retry = *o.Retry
	}
	return c
}

// OpenStorage resolves the storage connection called connectionName from
// settings and builds the service clients. It performs no I/O: problems with
// the account or the credential surface on the first request.
//
// Resolution follows Azure Functions:
//
//  1. A non-empty app setting named connectionName is a connection string:
//     "UseDevelopmentStorage=true" (optionally with DevelopmentStorageProxyUri)
//     for the emulator, or AccountName/AccountKey or SharedAccessSignature
//     with DefaultEndpointsProtocol, EndpointSuffix and explicit
//     Blob/Queue/TableEndpoint as needed.
//  2. Otherwise identity-based settings: connectionName__accountName, or all
//     of connectionName__blobServiceUri, __queueServiceUri and
//     __tableServiceUri, authenticated with a managed identity when
//     connectionName__credential is "managedidentity" (user-assigned when
//     connectionName__clientId is set) and with DefaultAzureCredential
//     otherwise.
//
// Errors name the setting at fault and never contain an account key.
func OpenStorage(settings *Settings, connectionName string, opts ClientOptions) (*Storage, error) {
	return openStorage(settings, connectionName, opts, newIdentityCredential)
}

// credentialFactory builds the token credential of an identity-based
// connection. It is a parameter so tests can avoid azidentity, whose
// credentials would contact Azure when asked for a token.
type credentialFactory func(c *connection, opts ClientOptions) (azcore.TokenCredential, error)

func newIdentityCredential(c *connection, opts ClientOptions) (azcore.TokenCredential, error) {
	// Only the transport is passed on: request-counting policies are meant
	// for storage traffic, not for token fetches.
	core := azcore.ClientOptions{Transport: opts.Transport}
	if strings.EqualFold(c.credential, "managedidentity") {
		miOpts := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: core}
		if c.clientID != "" {
			miOpts.ID = azidentity.ClientID(c.clientID)
		}
		cred, err := azidentity.NewManagedIdentityCredential(miOpts)
		if err != nil {
			return nil, fmt.Errorf("create managed identity credential: %w", err)
		}
		return cred, nil
	}
	cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: core})
	if err != nil {
		return nil, fmt.Errorf("create default Azure credential: %w", err)
	}
	return cred, nil
}

func openStorage(settings *Settings, connectionName string, opts ClientOptions, newCred credentialFactory) (*Storage, error) {
	c, err := resolveConnection(settings, connectionName)
	if err != nil {
		return nil, err
	}
	st := &Storage{AccountName: c.accountName, Emulator: c.emulator}
	tableOpts := &aztables.ClientOptions{ClientOptions: opts.coreOptions("table")}
	queueOpts := &azqueue.ClientOptions{ClientOptions: opts.coreOptions("queue")}
	blobOpts := &azblob.ClientOptions{ClientOptions: opts.coreOptions("blob")}

	wrap := func(what string, err error) error {
		return fmt.Errorf("storage connection %q: create %s client: %w", connectionName, what, err)
	}
	switch {
	case c.accountKey != "":
		tcred, err := aztables.NewSharedKeyCredential(c.accountName, c.accountKey)
		if err != nil {
			return nil, wrap("table", err)
		}
		if st.Tables, err = aztables.NewServiceClientWithSharedKey(c.table, tcred, tableOpts); err != nil {
			return nil, wrap("table", err)
		}
		qcred, err := azqueue.NewSharedKeyCredential(c.accountName, c.accountKey)
		if err != nil {
			return nil, wrap("queue", err)
		}
		if st.Queues, err = azqueue.NewServiceClientWithSharedKeyCredential(c.queue, qcred, queueOpts); err != nil {
			return nil, wrap("queue", err)
		}
		bcred, err := azblob.NewSharedKeyCredential(c.accountName, c.accountKey)
		if err != nil {
			return nil, wrap("blob", err)
		}
		if st.Blobs, err = azblob.NewClientWithSharedKeyCredential(c.blob, bcred, blobOpts); err != nil {
			return nil, wrap("blob", err)
		}
	case c.sas != "":
		// The SAS travels in the query string of every request; the SDK
		// clients keep the service URL's query when they append paths.
		withSAS := func(endpoint string) string { return endpoint + "/?" + c.sas }
		if st.Tables, err = aztables.NewServiceClientWithNoCredential(withSAS(c.table), tableOpts); err != nil {
			return nil, wrap("table", err)
		}
		if st.Queues, err = azqueue.NewServiceClientWithNoCredential(withSAS(c.queue), queueOpts); err != nil {
			return nil, wrap("queue", err)
		}
		if st.Blobs, err = azblob.NewClientWithNoCredential(withSAS(c.blob), blobOpts); err != nil {
			return nil, wrap("blob", err)
		}
	case c.identity:
		cred, err := newCred(c, opts)
		if err != nil {
			return nil, fmt.Errorf("storage connection %q: %w", connectionName, err)
		}
		if st.Tables, err = aztables.NewServiceClient(c.table, cred, tableOpts); err != nil {
			return nil, wrap("table", err)
		}
		if st.Queues, err = azqueue.NewServiceClient(c.queue, cred, queueOpts); err != nil {
			return nil, wrap("queue", err)
		}
		if st.Blobs, err = azblob.NewClient(c.blob, cred, blobOpts); err != nil {
			return nil, wrap("blob", err)
		}
	default:
		// resolveConnection always yields one of the cases above.
		return nil, fmt.Errorf("storage connection %q: no way to authenticate", connectionName)
	}
	return st, nil
}
