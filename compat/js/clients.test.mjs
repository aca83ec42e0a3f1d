// Compatibility proof: the real npm Durable Functions clients
// (durable-functions 3.5.0 and 2.1.4) against this app's HTTP API, each
// built from a durableClient binding value the way the Functions host hands
// it to a JavaScript worker, in both of the binding's modes:
//
//   rpc      rpcBaseUrl set: the clients build every URL from it;
//   webhook  no rpcBaseUrl: the clients fill in the creationUrls and
//            managementUrls templates (connection=Storage, {instanceId},
//            INSTANCEID, {text}, {eventName}).
//
// Run by e2e_jsclient_test.go (go test -run TestJSClients), which starts
// the app under the dev host and sets:
//
//   DURABLE_BASE_URL          the app's origin, e.g. http://127.0.0.1:7071
//   DURABLE_HUB               the task hub
//   DURABLE_BINDING_RPC       the binding value (JSON) in rpc mode
//   DURABLE_BINDING_WEBHOOK   the binding value (JSON) in webhook mode
//
// Orchestrators used (internal/samples): HelloWorld, E1_HelloSequence,
// ApprovalWorkflow (waits for "Approval", then saves), TimerDemo (sleeps for
// its input in seconds; fails on a non-number input); and the entity
// Account (deposit, withdraw, balance).

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { describe, test, before } from "node:test";

const require = createRequire(import.meta.url);

const base = process.env.DURABLE_BASE_URL;
const hub = process.env.DURABLE_HUB;
const bindings = {
    rpc: process.env.DURABLE_BINDING_RPC,
    webhook: process.env.DURABLE_BINDING_WEBHOOK,
};
const missing = !base || !hub || !bindings.rpc || !bindings.webhook;
const skip = missing
    ? "DURABLE_BASE_URL, DURABLE_HUB, DURABLE_BINDING_RPC and DURABLE_BINDING_WEBHOOK are not set: run `go test -run TestJSClients .`"
    : false;

// getClient rewrites the binding's URLs to http://localhost:7071 unless
// WEBSITE_HOSTNAME names the app, as the Functions host sets it.
if (!missing && !process.env.WEBSITE_HOSTNAME) {
    process.env.WEBSITE_HOSTNAME = new URL(base).host;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Adapters give both versions one calling convention; each calls the
// version's own method with its own argument shape.
function v3Client(binding) {
    const df = require("durable-functions-v3");
    const { InvocationContext, HttpRequest } = require("@azure/functions");
    const clientInput = df.input.durableClient();
    const context = new InvocationContext({
        invocationId: randomBytes(8).toString("hex"),
        functionName: "JsClientStarter",
        options: { extraInputs: [clientInput] },
    });
    context.extraInputs.set(clientInput, binding);
    const c = df.getClient(context);
    return {
        version: "v3",
        raw: c,
        startNew: (name, id, input) => c.startNew(name, { instanceId: id, input }),
        getStatus: (id, o = {}) => c.getStatus(id, o),
        getStatusAll: () => c.getStatusAll(),
        getStatusBy: (from, to, statuses) => c.getStatusBy({ createdTimeFrom: from, createdTimeTo: to, runtimeStatus: statuses }),
        raiseEvent: (id, name, data) => c.raiseEvent(id, name, data),
        terminate: (id, reason) => c.terminate(id, reason),
        suspend: (id, reason) => c.suspend(id, reason),
        resume: (id, reason) => c.resume(id, reason),
        rewind: (id, reason) => c.rewind(id, reason),
        purge: (id) => c.purgeInstanceHistory(id),
        purgeBy: (from, to, statuses) => c.purgeInstanceHistoryBy({ createdTimeFrom: from, createdTimeTo: to, runtimeStatus: statuses }),
        request: (u) => new HttpRequest({ url: u, method: "POST" }),
        waitOrCheck: async (req, id, timeout, retry) =>
            readResponse(await c.waitForCompletionOrCreateCheckStatusResponse(req, id, { timeoutInMilliseconds: timeout, retryIntervalInMilliseconds: retry })),
        checkStatusResponse: (req, id) => readResponse(c.createCheckStatusResponse(req, id)),
        managementPayload: (id) => c.createHttpManagementPayload(id),
    };
}

function v2Client(binding) {
    const df = require("durable-functions-v2");
    // getClient finds the binding among context.bindings, as the v2
    // programming model fills them from function.json.
    const c = df.getClient({ bindings: { starter: binding } });
    return {
        version: "v2",
        raw: c,
        startNew: (name, id, input) => c.startNew(name, id, input),
        getStatus: (id, o = {}) => c.getStatus(id, o.showHistory, o.showHistoryOutput, o.showInput),
        getStatusAll: () => c.getStatusAll(),
        getStatusBy: (from, to, statuses) => c.getStatusBy(from, to, statuses),
        raiseEvent: (id, name, data) => c.raiseEvent(id, name, data),
        terminate: (id, reason) => c.terminate(id, reason),
        suspend: null, // not in 2.1.4
        resume: null,
        rewind: (id, reason) => c.rewind(id, reason),
        purge: (id) => c.purgeInstanceHistory(id),
        purgeBy: (from, to, statuses) => c.purgeInstanceHistoryBy(from, to, statuses),
        request: (u) => ({ method: "POST", url: u, headers: {}, query: {}, params: {} }),
        waitOrCheck: async (req, id, timeout, retry) =>
            readResponse(await c.waitForCompletionOrCreateCheckStatusResponse(req, id, timeout, retry)),
        checkStatusResponse: (req, id) => readResponse(c.createCheckStatusResponse(req, id)),
        managementPayload: (id) => c.createHttpManagementPayload(id),
    };
}

// readResponse turns either version's HTTP response into
// { status, headers (lower-case names), body (parsed JSON) }.
async function readResponse(res) {
    if (typeof res.json === "function") {
        const headers = {};
        for (const [k, v] of res.headers) headers[k.toLowerCase()] = v;
        return { status: res.status, headers, body: await res.json() };
    }
    const headers = {};
    for (const [k, v] of Object.entries(res.headers || {})) headers[k.toLowerCase()] = String(v);
    return { status: res.status, headers, body: typeof res.body === "string" ? JSON.parse(res.body) : res.body };
}

// rawStatus reads a status through the app's API directly (the clients'
// own answers are what is under test; this is only for waiting).
async function rawStatus(id) {
    const res = await fetch(`${base}/durabletask/instances/${encodeURIComponent(id)}`);
    if (res.status === 404) return null;
    return res.json();
}

async function waitFor(id, want, ms = 30000) {
    const deadline = Date.now() + ms;
    let last;
    for (;;) {
        last = await rawStatus(id);
        if (last && last.runtimeStatus === want) return last;
        if (Date.now() > deadline) {
            assert.fail(`instance ${id}: status ${last && last.runtimeStatus} after ${ms} ms, want ${want}`);
        }
        await sleep(100);
    }
}

const checkStatusKeys = ["id", "statusQueryGetUri", "sendEventPostUri", "terminatePostUri", "purgeHistoryDeleteUri", "restartPostUri", "suspendPostUri", "resumePostUri"];
const managementKeys = ["id", "statusQueryGetUri", "sendEventPostUri", "terminatePostUri", "rewindPostUri", "purgeHistoryDeleteUri", "restartPostUri", "suspendPostUri", "resumePostUri"];

const makers = { v3: v3Client, v2: v2Client };

for (const version of ["v3", "v2"]) {
    for (const mode of ["rpc", "webhook"]) {
        describe(`durable-functions ${version} (${mode} mode)`, { skip }, () => {
            let c;
            const p = `js-${version}-${mode}-${randomBytes(3).toString("hex")}`;
            const id = (s) => `${p}-${s}`;

            before(() => {
                const binding = JSON.parse(bindings[mode]);
                assert.equal(binding.taskHubName, hub);
                assert.equal(Boolean(binding.rpcBaseUrl), mode === "rpc");
                c = makers[version](binding);
            });

            test("startNew without an instance ID, with input", async () => {
                const got = await c.startNew("HelloWorld", undefined, "js");
                assert.match(got, /^[0-9a-f]{32}$/);
                const st = await waitFor(got, "Completed");
                assert.equal(st.output, "Hello js!");
                assert.equal(st.input, "js");
            });

            test("signalEntity and readEntityState (entity Account)", async () => {
                const df = require(version === "v3" ? "durable-functions-v3" : "durable-functions-v2");
                const account = new df.EntityId("Account", id("acct"));
                await c.raw.signalEntity(account, "deposit", 5);
                await c.raw.signalEntity(account, "deposit", 7);
                const deadline = Date.now() + 30000;
                for (;;) {
                    const st = await c.raw.readEntityState(account);
                    if (st.entityExists && st.entityState === 12) break;
                    if (Date.now() > deadline) assert.fail(`entity state ${JSON.stringify(st)}, want 12`);
                    await sleep(100);
                }
                const none = await c.raw.readEntityState(new df.EntityId("Account", id("nobody")));
                assert.equal(none.entityExists, false);
            });

            test("startNew with an instance ID; getStatus and its options", async () => {
                const seq = id("seq");
                assert.equal(await c.startNew("E1_HelloSequence", seq, { n: 1 }), seq);
                await waitFor(seq, "Completed");

                const st = await c.getStatus(seq);
                assert.equal(st.name, "E1_HelloSequence");
                assert.equal(st.instanceId, seq);
                assert.equal(st.runtimeStatus, "Completed");
                assert.deepEqual(st.input, { n: 1 });
                assert.deepEqual(st.output, ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]);
                assert.ok(!Number.isNaN(new Date(st.createdTime).getTime()));

                const withHistory = await c.getStatus(seq, { showHistory: true });
                assert.equal(withHistory.runtimeStatus, "Completed");
                if (version === "v2") {
                    // v2 returns the body as it is.
                    const types = withHistory.historyEvents.map((e) => e.EventType);
                    assert.deepEqual(types, ["ExecutionStarted", "TaskCompleted", "TaskCompleted", "TaskCompleted", "ExecutionCompleted"]);
                    assert.equal(withHistory.historyEvents[1].FunctionName, "SayHello");
                    assert.equal(withHistory.historyEvents[1].Result, undefined);
                } else {
                    // v3 copies a field named "history", which neither the
                    // extension nor this app sends (both send
                    // historyEvents): the client drops the history.
                    assert.equal(withHistory.history, undefined);
                }
                const withOutput = await c.getStatus(seq, { showHistory: true, showHistoryOutput: true });
                if (version === "v2") {
                    assert.equal(withOutput.historyEvents[1].Result, "Hello Tokyo!");
                }

                const noInput = await c.getStatus(seq, { showInput: false });
                if (mode === "webhook") {
                    assert.equal(noInput.input, null);
                } else {
                    // In rpc mode both clients only send showInput when it
                    // is true, so the app's default (true) applies.
                    assert.deepEqual(noInput.input, { n: 1 });
                }
            });

            test("getStatus of an unknown instance", async () => {
                const nobody = id("nobody");
                if (version === "v2") {
                    // v2 hands back the 404's body: empty, as the extension's.
                    assert.equal(await c.getStatus(nobody), "");
                } else {
                    await assert.rejects(c.getStatus(nobody), (err) => {
                        assert.match(err.message, /HTTP 404 response/);
                        assert.ok(err.message.includes(nobody), err.message);
                        assert.ok(!err.message.includes("Details"), `404 had a body: ${err.message}`);
                        return true;
                    });
                }
            });

            test("getStatusAll and getStatusBy", async () => {
                const from = new Date(Date.now() - 1000);
                const done = id("by-done");
                const running = id("by-running");
                await c.startNew("HelloWorld", done, "by");
                await c.startNew("ApprovalWorkflow", running, null);
                await waitFor(done, "Completed");
                await waitFor(running, "Running");
                const to = new Date(Date.now() + 60000);

                const all = await c.getStatusAll();
                assert.ok(Array.isArray(all));
                const ids = all.map((s) => s.instanceId);
                assert.ok(ids.includes(done) && ids.includes(running), `getStatusAll lacks ${done} or ${running}`);

                const completed = await c.getStatusBy(from, to, ["Completed"]);
                assert.ok(completed.every((s) => s.runtimeStatus === "Completed"));
                assert.ok(completed.some((s) => s.instanceId === done));
                assert.ok(!completed.some((s) => s.instanceId === running));

                const both = (await c.getStatusBy(from, to, ["Running", "Completed"])).map((s) => s.instanceId);
                assert.ok(both.includes(done) && both.includes(running));

                const before = await c.getStatusBy(new Date(from.getTime() - 3600000), from, ["Completed", "Running"]);
                assert.ok(!before.some((s) => s.instanceId === done || s.instanceId === running));

                await c.terminate(running, "cleanup");
                await waitFor(running, "Terminated");
            });

            test("raiseEvent", async () => {
                const appr = id("approval");
                await c.startNew("ApprovalWorkflow", appr, { order: 7 });
                await waitFor(appr, "Running");
                await c.raiseEvent(appr, "Approval", { by: "js" });
                const st = await waitFor(appr, "Completed");
                assert.deepEqual(st.output, { approved: { by: "js" }, saved: true });

                // A finished instance: 410, which the clients take as done.
                await c.raiseEvent(appr, "Approval", true);
                await assert.rejects(c.raiseEvent(id("nobody"), "Approval", 1), /No instance with ID/);
                // An event name with a raw '/': a clear 400 from the app.
                await assert.rejects(c.raiseEvent(appr, "a/b", 1), (err) => {
                    assert.match(err.message, /unexpected status code: 400/);
                    assert.match(err.message, /must not contain '\/'/);
                    return true;
                });
            });

            test("terminate", async () => {
                const t = id("term");
                await c.startNew("ApprovalWorkflow", t, null);
                await waitFor(t, "Running");
                await c.terminate(t, "js-reason");
                const st = await waitFor(t, "Terminated");
                assert.equal(st.output, "js-reason");
                await c.terminate(t, "again"); // 410: already finished
                await assert.rejects(c.terminate(id("nobody"), "x"), /No instance with ID/);
            });

            test("suspend and resume", { skip: version === "v2" && "durable-functions 2.1.4 has no suspend or resume" }, async () => {
                const s = id("suspend");
                await c.startNew("ApprovalWorkflow", s, null);
                await waitFor(s, "Running");
                await c.suspend(s, "js-pause");
                await waitFor(s, "Suspended");
                // A suspended instance still reads as in progress.
                assert.equal((await c.getStatus(s)).runtimeStatus, "Suspended");
                await c.resume(s, "js-go");
                await waitFor(s, "Running");
                await c.raiseEvent(s, "Approval", "ok");
                await waitFor(s, "Completed");
                await c.suspend(s, "late"); // 410: finished
                await assert.rejects(c.suspend(id("nobody"), "x"), /No instance with ID/);
                await assert.rejects(c.resume(id("nobody"), "x"), /No instance with ID/);
            });

            test("rewind", async () => {
                const failed = id("failed");
                await c.startNew("TimerDemo", failed, "not-a-number");
                const st = await waitFor(failed, "Failed");
                assert.match(JSON.stringify(st.output), /TimerDemo wants a number of seconds/);
                await c.rewind(failed, "js-rewind");

                const done = id("rw-done");
                await c.startNew("HelloWorld", done, "rw");
                await waitFor(done, "Completed");
                const running = id("rw-running");
                await c.startNew("ApprovalWorkflow", running, null);
                await waitFor(running, "Running");
                const nobody = id("nobody");
                if (version === "v3") {
                    // 412 for any status but Failed; v3 shows the body.
                    for (const target of [done, running]) {
                        await assert.rejects(c.rewind(target, "no"), (err) => {
                            assert.match(err.message, /^The rewind operation is only supported on failed orchestration instances\./);
                            assert.ok(!err.message.includes("[object Object]"));
                            return true;
                        });
                    }
                    await assert.rejects(c.rewind(nobody, "no"), (err) => {
                        assert.equal(err.message, `No orchestration with instance ID '${nobody}' found.`);
                        return true;
                    });
                } else {
                    // v2 was written for the extension's earlier 410 and
                    // reports the 412 as an unexpected status.
                    for (const target of [done, running]) {
                        await assert.rejects(c.rewind(target, "no"), /unexpected status code: 412.*only supported on failed orchestration instances/);
                    }
                    await assert.rejects(c.rewind(nobody, "no"), new RegExp(`No instance with ID '${nobody}' found`));
                }
                await c.terminate(running, "cleanup");
                await waitFor(running, "Terminated");
            });

            test("purgeInstanceHistory", async () => {
                const gone = id("purge");
                await c.startNew("HelloWorld", gone, "purge");
                await waitFor(gone, "Completed");
                assert.deepEqual({ ...(await c.purge(gone)) }, { instancesDeleted: 1 });
                assert.equal(await rawStatus(gone), null);
                assert.equal((await c.purge(gone)).instancesDeleted, 0);
            });

            test("purgeInstanceHistoryBy", async () => {
                await sleep(50);
                const from = new Date();
                const a = id("pb-a");
                const b = id("pb-b");
                await c.startNew("HelloWorld", a, "a");
                await c.startNew("HelloWorld", b, "b");
                await waitFor(a, "Completed");
                await waitFor(b, "Completed");
                const to = new Date(Date.now() + 1000);
                // Another status matches nothing: 404, which reads as 0.
                assert.equal((await c.purgeBy(from, to, ["Failed"])).instancesDeleted, 0);
                assert.equal((await c.purgeBy(from, to, ["Completed"])).instancesDeleted, 2);
                assert.equal(await rawStatus(a), null);
                assert.equal(await rawStatus(b), null);
                assert.equal((await c.purgeBy(from, to, ["Completed"])).instancesDeleted, 0);
            });

            test("waitForCompletionOrCreateCheckStatusResponse", async () => {
                const req = c.request(`${base}/api/JsClientStarter`);
                const done = id("wait-done");
                await c.startNew("HelloWorld", done, "wait");
                let res = await c.waitOrCheck(req, done, 10000, 100);
                assert.equal(res.status, 200);
                assert.equal(res.body, "Hello wait!");

                const failed = id("wait-failed");
                await c.startNew("TimerDemo", failed, "nope");
                res = await c.waitOrCheck(req, failed, 10000, 100);
                assert.equal(res.status, 500);
                assert.equal(res.body.runtimeStatus, "Failed");

                const slow = id("wait-slow");
                await c.startNew("TimerDemo", slow, 60);
                res = await c.waitOrCheck(req, slow, 500, 100);
                assert.equal(res.status, 202);
                assert.equal(res.body.id, slow);
                assert.equal(res.headers.location, res.body.statusQueryGetUri);
                const st = await fetch(res.body.statusQueryGetUri);
                assert.equal(st.status, 202);
                assert.equal((await st.json()).runtimeStatus, "Running");
                const term = await fetch(res.body.terminatePostUri.replace("{text}", "done"), { method: "POST" });
                assert.equal(term.status, 202);
                await waitFor(slow, "Terminated");
                res = await c.waitOrCheck(req, slow, 2000, 100);
                assert.equal(res.status, 200);
                assert.equal(res.body.runtimeStatus, "Terminated");
            });

            test("createCheckStatusResponse: its URLs work", async () => {
                const req = c.request(`${base}/api/JsClientStarter?x=1`);
                const appr = id("check");
                await c.startNew("ApprovalWorkflow", appr, null);
                await waitFor(appr, "Running");
                const res = await c.checkStatusResponse(req, appr);
                assert.equal(res.status, 202);
                assert.equal(String(res.headers["retry-after"]), "10");
                for (const k of checkStatusKeys) assert.equal(typeof res.body[k], "string", k);
                assert.equal(res.body.id, appr);
                assert.equal(res.headers.location, res.body.statusQueryGetUri);
                assert.ok(res.body.statusQueryGetUri.startsWith(`${base}/durabletask/instances/${appr}?`), res.body.statusQueryGetUri);
                assert.match(res.body.statusQueryGetUri, new RegExp(`taskHub=${hub}&connection=`));

                let r = await fetch(res.body.statusQueryGetUri);
                assert.equal(r.status, 202);
                assert.equal(r.headers.get("retry-after"), "5");
                r = await fetch(res.body.sendEventPostUri.replace("{eventName}", "Approval"), {
                    method: "POST",
                    headers: { "Content-Type": "application/json" },
                    body: JSON.stringify({ by: "url" }),
                });
                assert.equal(r.status, 202);
                const st = await waitFor(appr, "Completed");
                assert.deepEqual(st.output, { approved: { by: "url" }, saved: true });
                r = await fetch(res.body.statusQueryGetUri);
                assert.equal(r.status, 200);
                r = await fetch(res.body.purgeHistoryDeleteUri, { method: "DELETE" });
                assert.equal(r.status, 200);
                assert.deepEqual(await r.json(), { instancesDeleted: 1 });
            });

            test("createHttpManagementPayload: rewind, restart, suspend, resume URLs", async () => {
                const failed = id("mp-failed");
                await c.startNew("TimerDemo", failed, "bad");
                await waitFor(failed, "Failed");
                const mp = c.managementPayload(failed);
                assert.deepEqual(Object.keys(mp), managementKeys);
                assert.equal(mp.id, failed);
                for (const k of managementKeys.slice(1)) {
                    assert.ok(mp[k].includes(`/instances/${failed}`), `${k}: ${mp[k]}`);
                    assert.ok(mp[k].includes(`taskHub=${hub}`), `${k}: ${mp[k]}`);
                }

                let r = await fetch(mp.statusQueryGetUri + "&showHistory=true&showHistoryOutput=true");
                assert.equal(r.status, 200);
                const body = await r.json();
                assert.equal(body.runtimeStatus, "Failed");
                assert.ok(Array.isArray(body.historyEvents) && body.historyEvents.length > 0);

                // restartPostUri: a new instance with the same input.
                r = await fetch(mp.restartPostUri, { method: "POST" });
                assert.equal(r.status, 202);
                const restarted = (await r.json()).id;
                assert.notEqual(restarted, failed);
                assert.equal((await waitFor(restarted, "Failed")).input, "bad");

                // rewindPostUri: 202 for Failed, 412 (plain text) otherwise.
                r = await fetch(mp.rewindPostUri.replace("{text}", "url-rewind"), { method: "POST" });
                assert.equal(r.status, 202);
                const done = id("mp-done");
                await c.startNew("HelloWorld", done, "mp");
                await waitFor(done, "Completed");
                r = await fetch(c.managementPayload(done).rewindPostUri.replace("{text}", "no"), { method: "POST" });
                assert.equal(r.status, 412);
                assert.match(await r.text(), /^The rewind operation is only supported on failed orchestration instances\./);

                const appr = id("mp-appr");
                await c.startNew("ApprovalWorkflow", appr, null);
                await waitFor(appr, "Running");
                const ap = c.managementPayload(appr);
                r = await fetch(ap.suspendPostUri.replace("{text}", "pause"), { method: "POST" });
                assert.equal(r.status, 202);
                await waitFor(appr, "Suspended");
                r = await fetch(ap.resumePostUri.replace("{text}", "go"), { method: "POST" });
                assert.equal(r.status, 202);
                await waitFor(appr, "Running");
                r = await fetch(ap.terminatePostUri.replace("{text}", "end"), { method: "POST" });
                assert.equal(r.status, 202);
                await waitFor(appr, "Terminated");
            });
        });
    }
}

// Client mistakes that no client method makes, sent as raw HTTP: each is a
// JSON 400 or 404, never a 500 or the host's bare 404.
describe("HTTP API client mistakes", { skip }, () => {
    const json = async (r) => {
        assert.match(r.headers.get("content-type") || "", /^application\/json/);
        const b = await r.json();
        assert.equal(typeof b.Message, "string");
        assert.equal(typeof b.ExceptionMessage, "string");
        return b;
    };

    test("instanceIdPrefix longer than an instance ID can be", async () => {
        const r = await fetch(`${base}/durabletask/instances?instanceIdPrefix=${"p".repeat(257)}`);
        assert.equal(r.status, 400);
        assert.match((await json(r)).ExceptionMessage, /instanceIdPrefix/);
    });

    test("a body that is not UTF-8", async () => {
        const r = await fetch(`${base}/orchestrators/HelloWorld`, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: Buffer.from([0x22, 0xff, 0xfe, 0x22]),
        });
        assert.equal(r.status, 400);
        assert.match((await json(r)).ExceptionMessage, /UTF-8/);
    });

    test("retryInterval=0", async () => {
        const r = await fetch(`${base}/orchestrators/HelloWorld/wait?timeout=2&retryInterval=0`, { method: "POST" });
        assert.equal(r.status, 400);
        assert.match((await json(r)).ExceptionMessage, /retryInterval/);
    });

    test("event names with '/' or too long", async () => {
        for (const name of ["a/b", "e".repeat(300)]) {
            const r = await fetch(`${base}/durabletask/instances/someone/raiseEvent/${name}`, {
                method: "POST",
                headers: { "Content-Type": "application/json" },
                body: "1",
            });
            assert.equal(r.status, 400, name);
            await json(r);
        }
    });

    test("raiseEvent with a JSON body and no Content-Type", async () => {
        const id = `js-noct-${randomBytes(3).toString("hex")}`;
        let r = await fetch(`${base}/orchestrators/ApprovalWorkflow/${id}`, { method: "POST" });
        assert.equal(r.status, 202);
        await waitFor(id, "Running");
        // fetch labels a string body text/plain; the body is still JSON.
        r = await fetch(`${base}/durabletask/instances/${id}/raiseEvent/Approval`, { method: "POST", body: '{"by":"text"}' });
        assert.equal(r.status, 202);
        assert.deepEqual((await waitFor(id, "Completed")).output, { approved: { by: "text" }, saved: true });
    });

    test("a raw '/' in an instance ID", async () => {
        for (const [method, path] of [
            ["GET", "/durabletask/instances/a/b"],
            ["POST", "/durabletask/instances/a/b/terminate"],
            ["DELETE", "/durabletask/instances/a/b"],
        ]) {
            const r = await fetch(base + path, { method });
            assert.ok(r.status === 404 || r.status === 405, `${method} ${path}: ${r.status}`);
            await json(r);
        }
    });

    test("connection=Storage is the default connection", async () => {
        const r = await fetch(`${base}/durabletask/instances?taskHub=${hub}&connection=Storage&top=1`);
        assert.equal(r.status, 200);
        assert.ok(Array.isArray(await r.json()));
        const bad = await fetch(`${base}/durabletask/instances?connection=Elsewhere`);
        assert.equal(bad.status, 400);
        await json(bad);
    });
});
