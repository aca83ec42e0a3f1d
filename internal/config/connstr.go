package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Connection-string keys, spelled as Azure Storage documents them.
// ParseConnectionString returns these spellings whatever the input's case.
const (
	csUseDevelopmentStorage      = "UseDevelopmentStorage"
	csDevelopmentStorageProxyURI = "DevelopmentStorageProxyUri"
	csDefaultEndpointsProtocol   = "DefaultEndpointsProtocol"
	csAccountName                = "AccountName"
	csAccountKey                 = "AccountKey"
	csEndpointSuffix             = "EndpointSuffix"
	csBlobEndpoint               = "BlobEndpoint"
	csQueueEndpoint              = "QueueEndpoint"
	csTableEndpoint              = "TableEndpoint"
	csSharedAccessSignature      = "SharedAccessSignature"
)

var knownConnectionStringKeys = []string{
	csUseDevelopmentStorage, csDevelopmentStorageProxyURI, csDefaultEndpointsProtocol,
	csAccountName, csAccountKey, csEndpointSuffix, csBlobEndpoint, csQueueEndpoint,
	csTableEndpoint, csSharedAccessSignature, "FileEndpoint",
}

// The storage emulator's (Azurite's) fixed account. The key is public,
// published in the emulator's documentation, and not a secret.
const (
	emulatorAccountName = "devstoreaccount1"
	emulatorAccountKey  = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	emulatorBlobPort    = "10000"
	emulatorQueuePort   = "10001"
	emulatorTablePort   = "10002"
)

const defaultEndpointSuffix = "core.windows.net"

// ParseConnectionString splits an Azure Storage connection string
// ("Key=Value;Key=Value") into its parts. Keys are matched ignoring case and
// returned in their documented spelling (AccountName, AccountKey,
// BlobEndpoint, ...); unknown keys are kept as written. Values are trimmed
// and may themselves contain '=' (base64 keys end in padding). Empty
// segments, such as after a trailing ';', are skipped.
//
// Errors never quote the input, because connection strings carry secrets.
func ParseConnectionString(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("connection string is empty")
	}
	out := make(map[string]string)
	seen := make(map[string]string) // lower-cased key -> key as returned
	for i, seg := range strings.Split(s, ";") {
		seg = strings.TrimSpace(seg)
		if seg == "" {
			continue
		}
		key, value, ok := strings.Cut(seg, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			return nil, fmt.Errorf("connection string part %d is not of the form Key=Value", i+1)
		}
		for _, known := range knownConnectionStringKeys {
			if strings.EqualFold(key, known) {
				key = known
				break
			}
		}
		lower := strings.ToLower(key)
		if prev, dup := seen[lower]; dup {
			return nil, fmt.Errorf("connection string has %s more than once", prev)
		}
		seen[lower] = key
		out[key] = strings.TrimSpace(value)
	}
	if len(out) == 0 {
		return nil, errors.New("connection string is empty")
	}
	return out, nil
}

// connection is a resolved storage connection: where the three services are
// and how to authenticate to them.
type connection struct {
	accountName string
	blob        string // service endpoints, without a trailing slash or SAS
	queue       string
	table       string

	accountKey string // shared-key auth when non-empty
	sas        string // SAS auth when non-empty, without a leading '?'

	identity   bool   // token auth through azidentity
	credential string // value of {name}__credential
	clientID   string // value of {name}__clientId

	emulator bool
}

// resolveConnection finds the storage connection called name the way Azure
// Functions does: a non-empty app setting of that name is a connection
// string; otherwise identity-based settings {name}__accountName or
// {name}__{blob,queue,table}ServiceUri locate the account.
func resolveConnection(settings *Settings, name string) (*connection, error) {
	if strings.TrimSpace(name) == "" {
		return nil, errors.New("storage connection: no connection name given")
	}
	if cs, ok := settings.Get(name); ok && strings.TrimSpace(cs) != "" {
		c, err := fromConnectionString(cs)
		if err != nil {
			return nil, fmt.Errorf("storage connection: app setting %q: %w", name, err)
		}
		return c, nil
	}
	return fromIdentitySettings(settings, name)
}

func fromConnectionString(cs string) (*connection, error) {
	m, err := ParseConnectionString(cs)
	if err != nil {
		return nil, err
	}
	if v, ok := m[csUseDevelopmentStorage]; ok {
		return fromDevelopmentStorage(m, v)
	}

	protocol := "https"
	if v, ok := m[csDefaultEndpointsProtocol]; ok {
		protocol = strings.ToLower(v)
		if protocol != "http" && protocol != "https" {
			return nil, fmt.Errorf("%s must be http or https, not %q", csDefaultEndpointsProtocol, v)
		}
	}
	suffix := defaultEndpointSuffix
	if v, ok := m[csEndpointSuffix]; ok && v != "" {
		suffix = strings.Trim(v, ".")
	}

	c := &connection{accountName: m[csAccountName], accountKey: m[csAccountKey]}
	if sas, ok := m[csSharedAccessSignature]; ok {
		c.sas = strings.TrimPrefix(sas, "?")
		if c.sas == "" {
			return nil, fmt.Errorf("%s is empty", csSharedAccessSignature)
		}
	}
	switch {
	case c.accountKey != "" && c.sas != "":
		// Azure's own parsers reject this combination; guessing which one
		// was meant would hide a configuration mistake.
		return nil, fmt.Errorf("connection string has both %s and %s; use one", csAccountKey, csSharedAccessSignature)
	case c.accountKey == "" && c.sas == "":
		if _, present := m[csAccountKey]; present {
			return nil, fmt.Errorf("%s is empty", csAccountKey)
		}
		return nil, fmt.Errorf("connection string has neither %s nor %s", csAccountKey, csSharedAccessSignature)
	case c.accountKey != "":
		if c.accountName == "" {
			return nil, fmt.Errorf("connection string has %s but no %s", csAccountKey, csAccountName)
		}
		if _, err := base64.StdEncoding.DecodeString(c.accountKey); err != nil {
			// The decoder's error is not wrapped: it carries nothing useful
			// and the key must not leak through it.
			return nil, fmt.Errorf("%s is not valid base64", csAccountKey)
		}
	}

	var missing []string
	for _, e := range []struct {
		key, service string
		dst          *string
	}{
		{csBlobEndpoint, "blob", &c.blob},
		{csQueueEndpoint, "queue", &c.queue},
		{csTableEndpoint, "table", &c.table},
	} {
		if v, ok := m[e.key]; ok && v != "" {
			u, err := parseEndpoint(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", e.key, err)
			}
			*e.dst = u
			continue
		}
		if c.accountName == "" {
			missing = append(missing, e.key)
			continue
		}
		// Checked only here, where the name becomes part of a host name:
		// emulator accounts reached through explicit endpoints may be
		// named more freely.
		if err := validateAccountName(c.accountName); err != nil {
			return nil, fmt.Errorf("%s: %w", csAccountName, err)
		}
		*e.dst = fmt.Sprintf("%s://%s.%s.%s", protocol, c.accountName, e.service, suffix)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("connection string has no %s and no %s", csAccountName, strings.Join(missing, ", "))
	}
	if c.accountName == "" {
		c.accountName = accountNameFromEndpoint(c.blob)
	}
	c.emulator = isLoopbackEndpoint(c.blob) || isLoopbackEndpoint(c.queue) || isLoopbackEndpoint(c.table)
	return c, nil
}

// fromDevelopmentStorage resolves "UseDevelopmentStorage=true" to the storage
// emulator's well-known account and ports.
func fromDevelopmentStorage(m map[string]string, flag string) (*connection, error) {
	if !strings.EqualFold(flag, "true") {
		return nil, fmt.Errorf("%s must be true, not %q", csUseDevelopmentStorage, flag)
	}
	for k := range m {
		if k != csUseDevelopmentStorage && k != csDevelopmentStorageProxyURI {
			return nil, fmt.Errorf("%s=true cannot be combined with %s", csUseDevelopmentStorage, k)
		}
	}
	scheme, host := "http", "127.0.0.1"
	if proxy, ok := m[csDevelopmentStorageProxyURI]; ok && proxy != "" {
		u, err := url.Parse(proxy)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
			return nil, fmt.Errorf("%s %q is not an absolute http(s) URL", csDevelopmentStorageProxyURI, proxy)
		}
		// Like the .NET storage library, keep the proxy's scheme and host
		// but the emulator's per-service ports.
		scheme, host = u.Scheme, u.Hostname()
	}
	at := func(port string) string {
		return fmt.Sprintf("%s://%s/%s", scheme, net.JoinHostPort(host, port), emulatorAccountName)
	}
	return &connection{
		accountName: emulatorAccountName,
		accountKey:  emulatorAccountKey,
		blob:        at(emulatorBlobPort),
		queue:       at(emulatorQueuePort),
		table:       at(emulatorTablePort),
		emulator:    true,
	}, nil
}

// Identity-based setting suffixes, as the Functions host spells them.
const (
	idAccountName     = "__accountName"
	idBlobServiceURI  = "__blobServiceUri"
	idQueueServiceURI = "__queueServiceUri"
	idTableServiceURI = "__tableServiceUri"
	idCredential      = "__credential"
	idClientID        = "__clientId"
)

func fromIdentitySettings(settings *Settings, name string) (*connection, error) {
	get := func(suffix string) string {
		v, _ := settings.Get(name + suffix)
		return strings.TrimSpace(v)
	}
	c := &connection{
		identity:    true,
		accountName: get(idAccountName),
		credential:  get(idCredential),
		clientID:    get(idClientID),
	}
	uris := []struct {
		suffix, service string
		dst             *string
	}{
		{idBlobServiceURI, "blob", &c.blob},
		{idQueueServiceURI, "queue", &c.queue},
		{idTableServiceURI, "table", &c.table},
	}
	var given, missing []string
	for _, u := range uris {
		v := get(u.suffix)
		if v == "" {
			missing = append(missing, name+u.suffix)
			continue
		}
		given = append(given, name+u.suffix)
		ep, err := parseEndpoint(v)
		if err != nil {
			return nil, fmt.Errorf("storage connection: app setting %q: %w", name+u.suffix, err)
		}
		if !strings.HasPrefix(ep, "https://") {
			// Token credentials are refused over plain http by the SDK;
			// failing here names the setting instead of failing on first use.
			return nil, fmt.Errorf("storage connection: app setting %q: identity-based connections need an https endpoint", name+u.suffix)
		}
		*u.dst = ep
	}

	if c.accountName == "" && len(given) == 0 {
		return nil, fmt.Errorf("storage connection: app setting %q is not set (and no identity-based settings %s or %s__*ServiceUri were found)", name, name+idAccountName, name)
	}
	if c.accountName == "" && len(missing) > 0 {
		return nil, fmt.Errorf("storage connection: identity-based connection %q has %s but is missing %s (set all three service URIs, or %s)",
			name, strings.Join(given, ", "), strings.Join(missing, ", "), name+idAccountName)
	}
	if c.accountName != "" {
		if err := validateAccountName(c.accountName); err != nil {
			return nil, fmt.Errorf("storage connection: app setting %q: %w", name+idAccountName, err)
		}
		// Explicit service URIs win for their service; the account name
		// supplies the rest, so a custom domain for one service still works.
		for _, u := range uris {
			if *u.dst == "" {
				*u.dst = fmt.Sprintf("https://%s.%s.%s", c.accountName, u.service, defaultEndpointSuffix)
			}
		}
	} else {
		c.accountName = accountNameFromEndpoint(c.blob)
	}
	c.emulator = isLoopbackEndpoint(c.blob) || isLoopbackEndpoint(c.queue) || isLoopbackEndpoint(c.table)
	return c, nil
}

// validateAccountName checks the storage account naming rule (3 to 24
// lower-case letters and digits), because the name becomes part of a host
// name and a wrong value would otherwise surface as a DNS failure.
func validateAccountName(name string) error {
	if len(name) < 3 || len(name) > 24 {
		return fmt.Errorf("account name %q must be 3 to 24 characters", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return fmt.Errorf("account name %q may only contain lower-case letters and digits", name)
		}
	}
	return nil
}

// parseEndpoint checks that v is an absolute http(s) URL and returns it
// without a trailing slash, so that SAS tokens and paths append uniformly.
func parseEndpoint(v string) (string, error) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// Print only scheme, host and path: a query could be a SAS token.
		shown := v
		if i := strings.IndexByte(shown, '?'); i >= 0 {
			shown = shown[:i] + "?..."
		}
		return "", fmt.Errorf("%q is not an absolute http or https URL", shown)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("endpoint must not have a query or fragment; put a SAS token in SharedAccessSignature")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	return strings.TrimRight(u.String(), "/"), nil
}

// accountNameFromEndpoint derives the account name from a service endpoint:
// the first path segment for path-style (emulator) URLs on an IP address or
// localhost, the first label of a standard "{account}.{service}.{suffix}"
// host name, and "" for anything else (such as a custom domain), where the
// name cannot be known.
func accountNameFromEndpoint(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return ""
	}
	host := u.Hostname()
	if net.ParseIP(host) != nil || strings.EqualFold(host, "localhost") {
		first, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
		return first
	}
	labels := strings.Split(strings.ToLower(host), ".")
	if len(labels) >= 3 {
		switch labels[1] {
		case "blob", "queue", "table", "dfs", "file":
			return labels[0]
		}
	}
	return ""
}

// isLoopbackEndpoint reports whether endpoint points at this machine, which
// for storage means the emulator.
func isLoopbackEndpoint(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
