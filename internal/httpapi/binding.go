package httpapi

import (
	"net/url"
	"strings"

	"github.com/durable-go/durable/internal/apijson"
)

// ManagementPayload is the extension's HttpManagementPayload (see
// apijson): the check-status URLs plus rewindPostUri. The 202 check-status
// body leaves rewindPostUri out, as the extension's does.
type ManagementPayload = apijson.ManagementPayload

// checkStatusOf is the payload without rewindPostUri: the 202 body.
func checkStatusOf(m ManagementPayload) CheckStatus {
	return CheckStatus{ID: m.ID, StatusQueryGetURI: m.StatusQueryGetURI, SendEventPostURI: m.SendEventPostURI,
		TerminatePostURI: m.TerminatePostURI, PurgeHistoryDeleteURI: m.PurgeHistoryDeleteURI,
		RestartPostURI: m.RestartPostURI, SuspendPostURI: m.SuspendPostURI, ResumePostURI: m.ResumePostURI}
}

// CreationURLs is the extension's HttpCreationPayload, the creationUrls of
// a durableClient binding.
type CreationURLs struct {
	CreateNewInstancePostURI          string `json:"createNewInstancePostUri"`
	CreateAndWaitOnNewInstancePostURI string `json:"createAndWaitOnNewInstancePostUri"`
}

// ClientBinding is the value of a durableClient (orchestrationClient)
// input binding as the Functions host hands it to an out-of-process
// worker: the extension's OrchestrationClientInputData. The JS clients
// (durable-functions v2 and v3) call the management API with it: through
// rpcBaseUrl when it is set, else through the URL templates.
type ClientBinding struct {
	TaskHubName    string            `json:"taskHubName"`
	ConnectionName string            `json:"connectionName,omitempty"`
	CreationURLs   CreationURLs      `json:"creationUrls"`
	ManagementURLs ManagementPayload `json:"managementUrls"`
	BaseURL        string            `json:"baseUrl"`
	// RequiredQueryStringParameters is the query every webhook call
	// carries (the system key, "code=…"), without the "?".
	RequiredQueryStringParameters string `json:"requiredQueryStringParameters"`
	// RPCBaseURL is the base of the management routes ("…/durabletask/"),
	// set in RPC mode only.
	RPCBaseURL string `json:"rpcBaseUrl,omitempty"`
}

// InstanceIDPlaceholder stands for the instance ID in a binding's
// managementUrls, as in the extension (BindingHelper).
const InstanceIDPlaceholder = "INSTANCEID"

// DefaultBindingConnection is the connection name the extension's binding
// URLs carry for the default storage connection (AzureWebJobsStorage).
const DefaultBindingConnection = "Storage"

// ClientBindingOptions describe the app a binding points at.
type ClientBindingOptions struct {
	// Origin is the scheme and host the client reaches the app at, e.g.
	// "http://localhost:7071".
	Origin string
	// RoutePrefix is host.json extensions.http.routePrefix ("" for none).
	RoutePrefix string
	// HubName is the task hub.
	HubName string
	// ConnectionName goes into the URLs' connection parameter; empty means
	// DefaultBindingConnection, as the extension writes it.
	ConnectionName string
	// Code is the key the URLs carry ("" for none).
	Code string
	// RPC sets rpcBaseUrl, which the clients then use for every call.
	RPC bool
}

// NewClientBinding builds the durableClient binding value for this app's
// management API the way the extension builds it for its webhook: the
// creation URLs carry only the key, the management URLs taskHub,
// connection and key, with InstanceIDPlaceholder for the instance.
func NewClientBinding(o ClientBindingOptions) ClientBinding {
	prefix := "/"
	if p := strings.Trim(o.RoutePrefix, "/"); p != "" {
		prefix = "/" + p + "/"
	}
	base := strings.TrimRight(o.Origin, "/") + prefix + BasePath
	conn := o.ConnectionName
	if conn == "" {
		conn = DefaultBindingConnection
	}
	var required string
	if o.Code != "" {
		required = "code=" + url.QueryEscape(o.Code)
	}
	create := base + "/orchestrators/{functionName}[/{instanceId}]"
	b := ClientBinding{
		TaskHubName:    o.HubName,
		ConnectionName: conn,
		CreationURLs: CreationURLs{
			CreateNewInstancePostURI:          create + "?" + required,
			CreateAndWaitOnNewInstancePostURI: create + "?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&" + required,
		},
		ManagementURLs:                apijson.BuildManagementPayload(base, InstanceIDPlaceholder, InstanceIDPlaceholder, o.HubName, conn, o.Code),
		BaseURL:                       base,
		RequiredQueryStringParameters: required,
	}
	if o.RPC {
		b.RPCBaseURL = base + "/"
	}
	return b
}
