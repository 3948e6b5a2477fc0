// The page: branding, the session (who, which workspace, what they may do), the tabs their
// permissions open, Log out; and the page a link that no longer works shows instead.
import { useEffect, useState } from "preact/hooks";
import { api, forgetSessionToken, loadBranding, takeSessionToken, whenSessionEnds } from "./api.js";
import { ApprovalsTab } from "./approvals.jsx";
import { KeysTab } from "./keys.jsx";
import { hasApprovalLevels, planOf } from "./permissions.js";
import { ErrorNote, Loading } from "./ui.jsx";

function Header({ branding, session, onLogOut }) {
  return (
    <header class="top">
      <div class="brand">
        {branding.logo_url ? <img src={branding.logo_url} alt="" class="logo" /> : null}
        <h1>{branding.title}</h1>
      </div>
      {session ? (
        <div class="who">
          <span>
            {session.member.name} · <span class="muted">{session.workspace}</span>
          </span>
          {branding.docs_url ? (
            <a href={branding.docs_url} target="_blank" rel="noopener noreferrer">
              Docs
            </a>
          ) : null}
          <button type="button" onClick={onLogOut}>
            Log out
          </button>
        </div>
      ) : null}
    </header>
  );
}

function Ended({ branding, loggedOut }) {
  return (
    <main class="ended">
      <h2>{loggedOut ? "You are logged out" : "This link has expired"}</h2>
      <p>
        {loggedOut
          ? "Your session has ended. To manage API keys again, open the API keys page from your account."
          : "The link you used is no longer valid. Ask for a new one: open the API keys page from your account again."}
      </p>
      {branding.docs_url ? (
        <p>
          <a href={branding.docs_url}>Documentation</a>
        </p>
      ) : null}
    </main>
  );
}

export function App() {
  const [branding, setBranding] = useState(null);
  const [session, setSession] = useState(null);
  const [ended, setEnded] = useState(null); // null, "expired" or "logged-out"
  const [context, setContext] = useState(null); // { policy, workspace } for keys:read
  const [error, setError] = useState(null);
  const [tab, setTab] = useState("keys");

  useEffect(() => {
    whenSessionEnds(() => setEnded((now) => now ?? "expired"));
    loadBranding().then((b) => {
      setBranding(b);
      document.title = b.title;
      if (b.accent_color) document.documentElement.style.setProperty("--accent", b.accent_color);
    });
    if (!takeSessionToken()) {
      setEnded("expired");
      return;
    }
    api("GET", "/portal/sessions/current").then(async (current) => {
      setSession(current);
      if (!current.permissions.some((p) => p.startsWith("keys:"))) {
        setTab("approvals");
        return;
      }
      // A workspace keygate has not seen yet (no key, no plan set) is a 404: on the default plan.
      const workspaceOrNew = api("GET", `/workspaces/${encodeURIComponent(current.workspace)}`).catch((e) => {
        if (e.status === 404) return null;
        throw e;
      });
      const [policy, workspace] = await Promise.all([api("GET", "/policy"), workspaceOrNew]);
      setContext({ policy, workspace });
    }).catch((e) => e.status !== 401 && setError(e));
  }, []);

  const logOut = async () => {
    setError(null);
    try {
      await api("DELETE", "/portal/sessions/current");
    } catch (e) {
      // A 401: it had ended already. Anything else: the session still works (and its link
      // may be in the browser's history), so say so and keep it for another try.
      if (e.status !== 401) {
        setError(e);
        return;
      }
    }
    forgetSessionToken();
    setEnded("logged-out");
  };

  if (!branding) return null;
  if (ended) {
    return (
      <>
        <Header branding={branding} />
        <Ended branding={branding} loggedOut={ended === "logged-out"} />
      </>
    );
  }
  const canKeys = session?.permissions.some((p) => p.startsWith("keys:"));
  const canReview = session?.permissions.includes("approvals:review") && (!context || hasApprovalLevels(context.policy));
  const tabs = [canKeys && ["keys", "API keys"], canReview && ["approvals", "Approvals"]].filter(Boolean);
  return (
    <>
      <Header branding={branding} session={session} onLogOut={logOut} />
      <main>
        <ErrorNote error={error} />
        {!session && !error ? <Loading what="your session" /> : null}
        {session && tabs.length > 1 ? (
          <div class="tabs" role="tablist" aria-label="Sections">
            {tabs.map(([id, label]) => (
              <button key={id} type="button" role="tab" id={`tab-${id}`} aria-selected={tab === id} aria-controls="panel" onClick={() => setTab(id)}>
                {label}
              </button>
            ))}
          </div>
        ) : null}
        <div id="panel" role={tabs.length > 1 ? "tabpanel" : undefined} aria-labelledby={tabs.length > 1 ? `tab-${tab}` : undefined}>
        {session && tab === "keys" && canKeys ? (
          context ? (
            <KeysTab session={session} policy={context.policy} workspace={context.workspace} plan={planOf(context.policy, context.workspace)} branding={branding} />
          ) : (
            <Loading what="keys" />
          )
        ) : null}
        {session && tab === "approvals" && canReview ? <ApprovalsTab /> : null}
        </div>
      </main>
    </>
  );
}
