package apijson

import "net/url"

// ManagementURLs are the management API's URLs for one instance, the
// members of Durable Functions' HttpManagementPayload.
type ManagementURLs struct {
	StatusQueryGetURI     string
	SendEventPostURI      string
	TerminatePostURI      string
	RewindPostURI         string
	PurgeHistoryDeleteURI string
	RestartPostURI        string
	SuspendPostURI        string
	ResumePostURI         string
}

// BuildManagementURLs builds the URLs of one instance below base (an
// absolute URL of the management API, without a trailing slash), with
// escapedID in the paths as given. The query carries taskHub, connection
// and code (when not empty), as the extension's links do.
func BuildManagementURLs(base, escapedID, hub, connection, code string) ManagementURLs {
	inst := base + "/instances/" + escapedID
	qs := "taskHub=" + url.QueryEscape(hub) + "&connection=" + url.QueryEscape(connection)
	if code != "" {
		qs += "&code=" + url.QueryEscape(code)
	}
	return ManagementURLs{
		StatusQueryGetURI:     inst + "?" + qs,
		SendEventPostURI:      inst + "/raiseEvent/{eventName}?" + qs,
		TerminatePostURI:      inst + "/terminate?reason={text}&" + qs,
		RewindPostURI:         inst + "/rewind?reason={text}&" + qs,
		PurgeHistoryDeleteURI: inst + "?" + qs,
		RestartPostURI:        inst + "/restart?" + qs,
		SuspendPostURI:        inst + "/suspend?reason={text}&" + qs,
		ResumePostURI:         inst + "/resume?reason={text}&" + qs,
	}
}
