// Where the app is: `/` (room list), `/rooms/<id>` (a room), `/settings`, `/saved` (saved messages), `/search` (search all chats), `/channels` (the channel directory). `?popup=1` is a room in its own window;
// `?launch=auto` is the portal's embedded start (it never evicts a running session, §11).

/** A screen of the app. */
export type Route = { screen: 'rooms' } | { screen: 'room'; roomId: number } | { screen: 'settings' } | { screen: 'saved' } | { screen: 'search' } | { screen: 'channels' };

/** The route of the current URL. */
export function currentRoute(): Route {
  const room = /^\/rooms\/(\d+)\/?$/.exec(location.pathname);
  if (room !== null) return { screen: 'room', roomId: Number(room[1]) };
  if (location.pathname === '/settings') return { screen: 'settings' };
  if (location.pathname === '/saved') return { screen: 'saved' };
  if (location.pathname === '/search') return { screen: 'search' };
  if (location.pathname === '/channels') return { screen: 'channels' };
  return { screen: 'rooms' };
}

/** The URL of a route (query kept). */
export function routeUrl(route: Route): string {
  const path =
    route.screen === 'room' ? `/rooms/${route.roomId}` : route.screen === 'settings' ? '/settings' : route.screen === 'saved' ? '/saved' : route.screen === 'search' ? '/search' : route.screen === 'channels' ? '/channels' : '/';
  return path + location.search;
}

/** This window shows one room only (opened with "open in a new window"). */
export const isPopup = new URLSearchParams(location.search).get('popup') === '1';

/** `auto` for the portal's embedded start. */
export const launchMode: 'auto' | 'manual' = new URLSearchParams(location.search).get('launch') === 'auto' ? 'auto' : 'manual';
