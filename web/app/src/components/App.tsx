import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { IndexedDbOutboxStore, SendjayClient, type LoginResult, type Settings } from '@sendjay/client';
import { t } from '../i18n.ts';
import { notificationFor, showNotification } from '../notifications.ts';
import { currentRoute, isPopup, launchMode, routeUrl, type Route } from '../route.ts';
import { clearSession, isSessionChange, loadSession, saveSession, updateSession } from '../session-store.ts';
import { isWatching, useClientEvent, useWatching } from '../use-client.ts';
import { onNotificationOpensRoom } from '../web-push.ts';
import { AlreadyRunningOffer } from './AlreadyRunningOffer.tsx';
import { ConnectionStatus } from './ConnectionStatus.tsx';
import { LoginScreen } from './LoginScreen.tsx';
import { PeoplePicker } from './PeoplePicker.tsx';
import { RoomList } from './RoomList.tsx';
import { RoomView } from './RoomView.tsx';
import { SavedScreen } from './SavedScreen.tsx';
import { SearchScreen } from './SearchScreen.tsx';
import { ChannelsScreen } from './ChannelsScreen.tsx';
import { SettingsScreen } from './SettingsScreen.tsx';
import { SignedInElsewhere } from './SignedInElsewhere.tsx';

/** Signed out: the login screen; signed in: the messenger. */
export function App() {
  const [login, setLogin] = useState<LoginResult | null>(() => loadSession());
  const [notice, setNotice] = useState<string | null>(null);
  if (login === null) {
    return (
      <LoginScreen
        notice={notice}
        onSignedIn={(l, remember) => {
          saveSession(l, remember);
          setNotice(null);
          setLogin(l);
        }}
      />
    );
  }
  return (
    <Messenger
      key={`${login.user_id}/${login.device_id}`}
      login={login}
      onSignedOut={(message) => {
        clearSession();
        setNotice(message);
        setLogin(null);
      }}
    />
  );
}

/** The signed-in messenger: one client for this tab (sharing the socket with the user's other tabs). */
function Messenger(props: { login: LoginResult; onSignedOut: (notice: string | null) => void }) {
  const client = useMemo(
    () =>
      new SendjayClient({
        login: props.login,
        onRenewed: updateSession,
        launch: launchMode,
        outbox: new IndexedDbOutboxStore(props.login.user_id),
      }),
    [props.login],
  );
  const [route, setRoute] = useState<Route>(currentRoute);
  const [picking, setPicking] = useState(false);
  const watching = useWatching();
  useClientEvent(client, 'state');
  useClientEvent(client, 'rooms');

  useEffect(() => {
    client.start();
    const onPop = () => setRoute(currentRoute());
    window.addEventListener('popstate', onPop);
    // Another tab renewed the tokens: take the new pair (the old refresh token is used up).
    const onStorage = (e: StorageEvent) => {
      if (!isSessionChange(e)) return;
      const stored = loadSession();
      if (stored !== null) client.credentials.adopt(stored);
    };
    window.addEventListener('storage', onStorage);
    const onUnload = () => client.close();
    window.addEventListener('pagehide', onUnload);
    return () => {
      window.removeEventListener('popstate', onPop);
      window.removeEventListener('storage', onStorage);
      window.removeEventListener('pagehide', onUnload);
      client.close();
    };
  }, [client]);

  const go = (next: Route) => {
    history.pushState(null, '', routeUrl(next));
    setRoute(next);
  };

  // Notifications: only the tab holding the connection raises them, so several tabs do not repeat one.
  // The stored settings outlive route changes (the message listener below is re-made on each one); they are asked
  // for once online (again after each reconnect, in case another device changed them meanwhile) and follow pushes.
  const settings = useRef<Settings | null>(null);
  useEffect(() => {
    settings.current = null;
    const fetchSettings = () => client.getSettings().then((v) => (settings.current = v), () => undefined);
    const offSettings = client.on('settings', (s) => (settings.current = s));
    const offState = client.on('state', (s) => {
      if (s.status === 'online') void fetchSettings();
    });
    if (client.state.status === 'online') void fetchSettings();
    return () => {
      offSettings();
      offState();
    };
  }, [client]);
  useEffect(
    () =>
      client.on('message', (m) => {
        if (!client.holdsConnection) return;
        const shown = route.screen === 'room' ? route.roomId : null;
        const n = notificationFor(m, { selfId: client.userId, settings: settings.current, room: client.room(m.room_id), openRoomId: shown, watching: isWatching(), now: new Date() });
        if (n !== null) showNotification(n.title, n.body, `sendjay-${m.room_id}-${m.seq}`, () => go({ screen: 'room', roomId: m.room_id }));
      }),
    [client, route],
  );

  // A click on a pushed notification (src/sw.ts) asks this window to show the room.
  useEffect(() => onNotificationOpensRoom((roomId) => go({ screen: 'room', roomId })), []);

  const total = client.totalUnread();
  useEffect(() => {
    document.title = total > 0 ? `(${total}) ${t.appName}` : t.appName;
  }, [total]);

  const state = client.state;
  if (state.status === 'ended') {
    switch (state.reason) {
      case 'evicted':
        return <SignedInElsewhere onUseHere={() => client.useHere()} onSignOut={() => props.onSignedOut(null)} />;
      case 'already_running':
        return <AlreadyRunningOffer onUseHere={() => client.useHere()} />;
      case 'closed':
        return null;
      default:
        queueMicrotask(() => props.onSignedOut(endNotice(state.reason)));
        return null;
    }
  }

  const signOut = async () => {
    try {
      await client.logout();
    } catch {
      // Logged out locally either way; the token is dropped below.
    }
    props.onSignedOut(t.loggedOut);
  };

  if (isPopup && route.screen === 'room') {
    return (
      <div class="app popup">
        <ConnectionStatus state={state} />
        <RoomView client={client} roomId={route.roomId} watching={watching} popup onBack={() => undefined} />
      </div>
    );
  }

  const selected = route.screen === 'room' ? route.roomId : null;
  return (
    <div class={`app screen-${route.screen}`}>
      <nav class="sidebar" aria-label={t.rooms}>
        <header class="sidebar-header">
          <h1>{t.appName}</h1>
          <span class="me">{client.userId}</span>
          <span class="spacer" />
          <button type="button" class="link" onClick={() => setPicking(true)}>
            {t.newChat}
          </button>
          <button type="button" class="link" onClick={() => go({ screen: 'channels' })}>
            {t.channels}
          </button>
          <button type="button" class="link" onClick={() => go({ screen: 'search' })}>
            {t.searchAllChats}
          </button>
          <button type="button" class="link" onClick={() => go({ screen: 'saved' })}>
            {t.savedMessages}
          </button>
          <button type="button" class="link" onClick={() => go({ screen: 'settings' })}>
            {t.settings}
          </button>
          <button type="button" class="link" onClick={() => void signOut()}>
            {t.signOut}
          </button>
        </header>
        <ConnectionStatus state={state} />
        {picking && (
          <PeoplePicker
            client={client}
            onClose={() => setPicking(false)}
            onOpened={(roomId) => {
              setPicking(false);
              go({ screen: 'room', roomId });
            }}
          />
        )}
        <RoomList rooms={client.rooms()} selected={selected} onOpen={(roomId) => go({ screen: 'room', roomId })} />
      </nav>
      <main class="content">
        {route.screen === 'room' && (
          <RoomView client={client} roomId={route.roomId} watching={watching} popup={false} onBack={() => go({ screen: 'rooms' })} />
        )}
        {route.screen === 'settings' && <SettingsScreen client={client} onBack={() => go({ screen: 'rooms' })} onPasswordChanged={() => props.onSignedOut(t.passwordChanged)} />}
        {route.screen === 'channels' && (
          <ChannelsScreen client={client} onBack={() => go({ screen: 'rooms' })} onOpenRoom={(roomId) => go({ screen: 'room', roomId })} />
        )}
        {route.screen === 'search' && (
          <SearchScreen client={client} onBack={() => go({ screen: 'rooms' })} onOpenRoom={(roomId) => go({ screen: 'room', roomId })} />
        )}
        {route.screen === 'saved' && (
          <SavedScreen client={client} onBack={() => go({ screen: 'rooms' })} onOpenRoom={(roomId) => go({ screen: 'room', roomId })} />
        )}
        {route.screen === 'rooms' && <p class="empty">{t.rooms}</p>}
      </main>
    </div>
  );
}

/** The message on the login screen after a session ended for good. */
function endNotice(reason: string): string {
  switch (reason) {
    case 'token_revoked':
      return t.passkeyReset;
    case 'token_expired':
    case 'auth_failed':
      return t.tokenExpired;
    case 'logged_out':
      return t.loggedOut;
    case 'user_unavailable':
      return t.unavailable;
    default:
      return t.sessionEnded;
  }
}
