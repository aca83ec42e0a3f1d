package apijson

import "net/url"

// ManagementPayload is Durable Functions' HttpManagementPayload: the
// instance's ID and the URLs of the HTTP management API for it, in the
// extension's field order, with {eventName} and {text} left for the caller
// to fill in. It is what CreateHttpManagementPayload returns and a
// durableClient binding's managementUrls hold.
type ManagementPayload struct {
	ID                    string `json:"id"`
	StatusQueryGetURI     string `json:"statusQueryGetUri"`
	SendEventPostURI      string `json:"sendEventPostUri"`
	TerminatePostURI      string `json:"terminatePostUri"`
	RewindPostURI         string `json:"rewindPostUri"`
	PurgeHistoryDeleteURI string `json:"purgeHistoryDeleteUri"`
	RestartPostURI        string `json:"restartPostUri"`
	SuspendPostURI        string `json:"suspendPostUri"`
	ResumePostURI         string `json:"resumePostUri"`
}

// BuildManagementPayload builds the payload of instance id below base (an
// absolute URL of the management API, without a trailing slash), with
// escapedID in the paths as given. The query carries taskHub, connection
// and code (when not empty), as the extension's links do.
func BuildManagementPayload(base, id, escapedID, hub, connection, code string) ManagementPayload {
	inst := base + "/instances/" + escapedID
	qs := "taskHub=" + url.QueryEscape(hub) + "&connection=" + url.QueryEscape(connection)
	if code != "" {
		qs += "&code=" + url.QueryEscape(code)
	}
	return ManagementPayload{
		ID:                    id,
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
