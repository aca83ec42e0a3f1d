package config

import (
	"reflect"
	"strings"
	"testing"
)

// testKey is a syntactically valid account key whose appearance in any error
// message would mean a secret leaked.
const testKey = "c2VjcmV0LWtleS1tdXN0LW5vdC1sZWFrU0VDUkVUS0VZ"

func TestParseConnectionString(t *testing.T) {
	got, err := ParseConnectionString(" defaultendpointsprotocol=https; accountname = acct ;ACCOUNTKEY=" + testKey + ";Custom=a=b;; ")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"DefaultEndpointsProtocol": "https",
		"AccountName":              "acct",
		"AccountKey":               testKey,
		"Custom":                   "a=b",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func TestParseConnectionStringErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "connection string is empty"},
		{" ; ;", "connection string is empty"},
		{"AccountName=a;" + testKey, "connection string part 2 is not of the form Key=Value"},
		{"=x", "connection string part 1 is not of the form Key=Value"},
		{"AccountName=a;accountname=b", "connection string has AccountName more than once"},
	}
	for _, tt := range tests {
		_, err := ParseConnectionString(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseConnectionString(%q) error = %v, want %q", tt.in, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), testKey) {
			t.Errorf("error leaks the key: %v", err)
		}
	}
}

func resolve(t *testing.T, values map[string]string, name string) *connection {
	t.Helper()
	c, err := resolveConnection(NewSettings(values, false), name)
	if err != nil {
		t.Fatalf("resolveConnection: %v", err)
	}
	return c
}

func TestResolveDevelopmentStorage(t *testing.T) {
	c := resolve(t, map[string]string{"AzureWebJobsStorage": "UseDevelopmentStorage=true"}, "AzureWebJobsStorage")
	want := &connection{
		accountName: "devstoreaccount1",
		accountKey:  emulatorAccountKey,
		blob:        "http://127.0.0.1:10000/devstoreaccount1",
		queue:       "http://127.0.0.1:10001/devstoreaccount1",
		table:       "http://127.0.0.1:10002/devstoreaccount1",
		emulator:    true,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}

	c = resolve(t, map[string]string{"S": "usedevelopmentstorage=TRUE;DevelopmentStorageProxyUri=https://azurite.local:8443"}, "S")
	if c.blob != "https://azurite.local:10000/devstoreaccount1" || c.queue != "https://azurite.local:10001/devstoreaccount1" ||
		c.table != "https://azurite.local:10002/devstoreaccount1" || !c.emulator {
		t.Errorf("with proxy: %+v", c)
	}
}

func TestResolveAccountKey(t *testing.T) {
	c := resolve(t, map[string]string{"S": "DefaultEndpointsProtocol=https;AccountName=myacct;AccountKey=" + testKey + ";EndpointSuffix=core.windows.net"}, "S")
	want := &connection{
		accountName: "myacct",
		accountKey:  testKey,
		blob:        "https://myacct.blob.core.windows.net",
		queue:       "https://myacct.queue.core.windows.net",
		table:       "https://myacct.table.core.windows.net",
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}

	// Defaults: https and core.windows.net; a sovereign suffix and http.
	c = resolve(t, map[string]string{"S": "AccountName=myacct;AccountKey=" + testKey}, "S")
	if c.table != "https://myacct.table.core.windows.net" {
		t.Errorf("default endpoint = %q", c.table)
	}
	c = resolve(t, map[string]string{"S": "DefaultEndpointsProtocol=HTTP;AccountName=myacct;AccountKey=" + testKey + ";EndpointSuffix=core.chinacloudapi.cn"}, "S")
	if c.queue != "http://myacct.queue.core.chinacloudapi.cn" {
		t.Errorf("sovereign endpoint = %q", c.queue)
	}
}

func TestResolveExplicitEndpoints(t *testing.T) {
	// The form Azurite documents, with a custom blob port.
	cs := "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + emulatorAccountKey +
		";BlobEndpoint=http://127.0.0.1:20000/devstoreaccount1/;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;TableEndpoint=http://localhost:10002/devstoreaccount1;"
	c := resolve(t, map[string]string{"S": cs}, "S")
	if c.blob != "http://127.0.0.1:20000/devstoreaccount1" || c.queue != "http://127.0.0.1:10001/devstoreaccount1" ||
		c.table != "http://localhost:10002/devstoreaccount1" {
		t.Errorf("endpoints = %q %q %q", c.blob, c.queue, c.table)
	}
	if !c.emulator {
		t.Error("loopback endpoints should mark the emulator")
	}

	// One explicit endpoint, the rest from the account name.
	c = resolve(t, map[string]string{"S": "AccountName=acct;AccountKey=" + testKey + ";BlobEndpoint=https://cdn.example.com"}, "S")
	if c.blob != "https://cdn.example.com" || c.queue != "https://acct.queue.core.windows.net" || c.emulator {
		t.Errorf("mixed endpoints: %+v", c)
	}
}

func TestResolveSAS(t *testing.T) {
	cs := "BlobEndpoint=https://acct.blob.core.windows.net/;QueueEndpoint=https://acct.queue.core.windows.net;TableEndpoint=https://acct.table.core.windows.net;SharedAccessSignature=?sv=2022-11-02&ss=bqt&sig=abc%3D"
	c := resolve(t, map[string]string{"S": cs}, "S")
	if c.sas != "sv=2022-11-02&ss=bqt&sig=abc%3D" || c.accountKey != "" {
		t.Errorf("sas = %q key = %q", c.sas, c.accountKey)
	}
	if c.accountName != "acct" {
		t.Errorf("accountName derived = %q, want acct", c.accountName)
	}

	c = resolve(t, map[string]string{"S": "AccountName=acct;SharedAccessSignature=sv=1&sig=x"}, "S")
	if c.blob != "https://acct.blob.core.windows.net" || c.sas != "sv=1&sig=x" {
		t.Errorf("account+sas: %+v", c)
	}
}

func TestResolveConnectionStringErrors(t *testing.T) {
	tests := []struct {
		name, cs, want string
	}{
		{"dev false", "UseDevelopmentStorage=false", `storage connection: app setting "S": UseDevelopmentStorage must be true, not "false"`},
		{"dev combined", "UseDevelopmentStorage=true;AccountName=x", `storage connection: app setting "S": UseDevelopmentStorage=true cannot be combined with AccountName`},
		{"dev proxy", "UseDevelopmentStorage=true;DevelopmentStorageProxyUri=not a url", `storage connection: app setting "S": DevelopmentStorageProxyUri "not a url" is not an absolute http(s) URL`},
		{"protocol", "DefaultEndpointsProtocol=ftp;AccountName=acct;AccountKey=" + testKey, `storage connection: app setting "S": DefaultEndpointsProtocol must be http or https, not "ftp"`},
		{"no account name", "AccountKey=" + testKey, `storage connection: app setting "S": connection string has AccountKey but no AccountName`},
		{"empty key", "AccountName=acct;AccountKey=", `storage connection: app setting "S": AccountKey is empty`},
		{"no credential", "AccountName=acct", `storage connection: app setting "S": connection string has neither AccountKey nor SharedAccessSignature`},
		{"both", "AccountName=acct;AccountKey=" + testKey + ";SharedAccessSignature=sig=1", `storage connection: app setting "S": connection string has both AccountKey and SharedAccessSignature; use one`},
		{"empty sas", "AccountName=acct;SharedAccessSignature=?", `storage connection: app setting "S": SharedAccessSignature is empty`},
		{"bad base64", "AccountName=acct;AccountKey=not*base64" + testKey, `storage connection: app setting "S": AccountKey is not valid base64`},
		{"bad account", "AccountName=My_Account;AccountKey=" + testKey, `storage connection: app setting "S": AccountName: account name "My_Account" may only contain lower-case letters and digits`},
		{"missing endpoints", "BlobEndpoint=https://a.blob.core.windows.net;SharedAccessSignature=sig=1", `storage connection: app setting "S": connection string has no AccountName and no QueueEndpoint, TableEndpoint`},
		{"bad endpoint", "AccountName=acct;AccountKey=" + testKey + ";QueueEndpoint=acct.queue.core.windows.net", `storage connection: app setting "S": QueueEndpoint: "acct.queue.core.windows.net" is not an absolute http or https URL`},
		{"endpoint query", "AccountName=acct;SharedAccessSignature=sig=1;TableEndpoint=https://t.example.com/?sig=2", `storage connection: app setting "S": TableEndpoint: endpoint must not have a query or fragment`},
		{"malformed", "AccountName=acct;" + testKey, `storage connection: app setting "S": connection string part 2 is not of the form Key=Value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resolveConnection(NewSettings(map[string]string{"S": tt.cs}, false), "S")
			if err == nil {
				t.Fatalf("want error %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n%s\nwant it to contain:\n%s", err, tt.want)
			}
			if strings.Contains(err.Error(), testKey) || strings.Contains(err.Error(), "c2VjcmV0") {
				t.Errorf("error leaks the account key: %s", err)
			}
		})
	}
}

func TestResolveIdentityAccountName(t *testing.T) {
	c := resolve(t, map[string]string{
		"AzureWebJobsStorage__accountName": "myacct",
		"AzureWebJobsStorage__credential":  "managedidentity",
		"AzureWebJobsStorage__clientId":    "00000000-0000-0000-0000-000000000001",
	}, "AzureWebJobsStorage")
	want := &connection{
		accountName: "myacct",
		blob:        "https://myacct.blob.core.windows.net",
		queue:       "https://myacct.queue.core.windows.net",
		table:       "https://myacct.table.core.windows.net",
		identity:    true,
		credential:  "managedidentity",
		clientID:    "00000000-0000-0000-0000-000000000001",
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
}

func TestResolveIdentityColonSpelling(t *testing.T) {
	// An empty connection-string setting does not stop the identity lookup,
	// and the .NET ":" spelling of the settings works.
	c := resolve(t, map[string]string{"Conn": "", "Conn:accountName": "colonacct"}, "Conn")
	if !c.identity || c.table != "https://colonacct.table.core.windows.net" {
		t.Fatalf("got %+v", c)
	}
}

func TestResolveIdentityServiceURIs(t *testing.T) {
	c := resolve(t, map[string]string{
		"Conn__blobServiceUri":  "https://custom.blob.example.net/",
		"Conn__queueServiceUri": "https://custom.queue.example.net",
		"Conn__tableServiceUri": "https://custom.table.example.net",
	}, "Conn")
	if c.blob != "https://custom.blob.example.net" || c.queue != "https://custom.queue.example.net" ||
		c.table != "https://custom.table.example.net" || c.accountName != "custom" || !c.identity || c.credential != "" {
		t.Fatalf("got %+v", c)
	}

	// Service URIs override the account name per service.
	c = resolve(t, map[string]string{
		"Conn__accountName":    "acct",
		"Conn__blobServiceUri": "https://blobs.example.net",
	}, "Conn")
	if c.blob != "https://blobs.example.net" || c.queue != "https://acct.queue.core.windows.net" || c.table != "https://acct.table.core.windows.net" {
		t.Fatalf("mixed: %+v", c)
	}
}

func TestResolveIdentityErrors(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]string
		want   string
	}{
		{"nothing", map[string]string{"Other": "x"},
			`storage connection: app setting "Conn" is not set (and no identity-based settings Conn__accountName or Conn__*ServiceUri were found)`},
		{"empty setting", map[string]string{"Conn": "  "},
			`storage connection: app setting "Conn" is not set (and no identity-based settings Conn__accountName or Conn__*ServiceUri were found)`},
		{"one uri", map[string]string{"Conn__queueServiceUri": "https://a.queue.core.windows.net"},
			`storage connection: identity-based connection "Conn" has Conn__queueServiceUri but is missing Conn__blobServiceUri, Conn__tableServiceUri (set all three service URIs, or Conn__accountName)`},
		{"two uris", map[string]string{"Conn__blobServiceUri": "https://a.blob.core.windows.net", "Conn__tableServiceUri": "https://a.table.core.windows.net"},
			`storage connection: identity-based connection "Conn" has Conn__blobServiceUri, Conn__tableServiceUri but is missing Conn__queueServiceUri`},
		{"bad uri", map[string]string{"Conn__blobServiceUri": "blob.example.net"},
			`storage connection: app setting "Conn__blobServiceUri": "blob.example.net" is not an absolute http or https URL`},
		{"http uri", map[string]string{"Conn__accountName": "acct", "Conn__tableServiceUri": "http://127.0.0.1:10002/devstoreaccount1"},
			`storage connection: app setting "Conn__tableServiceUri": identity-based connections need an https endpoint`},
		{"bad account", map[string]string{"Conn__accountName": "https://acct.blob.core.windows.net"},
			`storage connection: app setting "Conn__accountName": account name "https://acct.blob.core.windows.net" must be 3 to 24 characters`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resolveConnection(NewSettings(tt.values, false), "Conn")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tt.want)
			}
		})
	}
}

func TestResolveNoConnectionName(t *testing.T) {
	if _, err := resolveConnection(NewSettings(nil, false), ""); err == nil {
		t.Fatal("want error for empty connection name")
	}
}

func TestAccountNameFromEndpoint(t *testing.T) {
	tests := map[string]string{
		"https://acct.blob.core.windows.net":       "acct",
		"https://acct.queue.core.chinacloudapi.cn": "acct",
		"http://127.0.0.1:10000/devstoreaccount1":  "devstoreaccount1",
		"http://localhost:10002/other/x":           "other",
		"http://[::1]:10000/devstoreaccount1":      "devstoreaccount1",
		"https://cdn.example.com":                  "",
		"https://example.com":                      "",
	}
	for in, want := range tests {
		if got := accountNameFromEndpoint(in); got != want {
			t.Errorf("accountNameFromEndpoint(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsLoopbackEndpoint(t *testing.T) {
	for in, want := range map[string]bool{
		"http://127.0.0.1:10000/devstoreaccount1": true,
		"http://LOCALHOST:10000/devstoreaccount1": true,
		"http://[::1]:10000/a":                    true,
		"https://acct.blob.core.windows.net":      false,
		"https://10.0.0.1/a":                      false,
	} {
		if got := isLoopbackEndpoint(in); got != want {
			t.Errorf("isLoopbackEndpoint(%q) = %v, want %v", in, got, want)
		}
	}
}
