import { useEffect, useState } from 'preact/hooks';
import type { OrgUnit, SendjayClient, UserProfile } from '@sendjay/client';
import { t } from '../i18n.ts';

/** How many people of a unit one page shows (§6.12 pages `unit_members`). */
const PAGE = 50;

/**
 * The organisation tree (§6.12): top-level units first; opening a unit loads its sub-units and its people, a page
 * at a time, so a 10 000-person company never travels at once. Picking a person calls `onPick`.
 */
export function OrgTree(props: { client: SendjayClient; onPick: (user: UserProfile) => void }) {
  const [top, setTop] = useState<OrgUnit[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    props.client.request('org_units', {}).then(
      (r) => setTop(r.units),
      (e: unknown) => setError(e instanceof Error ? e.message : String(e)),
    );
  }, [props.client]);

  return (
    <nav class="org-tree" aria-labelledby="org-title">
      <h3 id="org-title">{t.organisation}</h3>
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <ul>
        {(top ?? []).map((u) => (
          <OrgUnitItem key={u.id} client={props.client} unit={u} onPick={props.onPick} />
        ))}
      </ul>
    </nav>
  );
}

/** One unit: a toggle showing its sub-units and people once opened. */
function OrgUnitItem(props: { client: SendjayClient; unit: OrgUnit; onPick: (user: UserProfile) => void }) {
  const { client, unit } = props;
  const [open, setOpen] = useState(false);
  const [units, setUnits] = useState<OrgUnit[]>([]);
  const [people, setPeople] = useState<UserProfile[]>([]);
  const [hasMore, setHasMore] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const fail = (e: unknown) => setError(e instanceof Error ? e.message : String(e));

  const loadPeople = (after?: string) =>
    client.request('unit_members', after === undefined ? { unit_id: unit.id, limit: PAGE } : { unit_id: unit.id, after, limit: PAGE }).then((r) => {
      setPeople((list) => [...list, ...r.users]);
      setHasMore(r.has_more);
    }, fail);

  const toggle = () => {
    if (!open && units.length === 0 && people.length === 0) {
      if (unit.child_count > 0) client.request('org_units', { parent_id: unit.id }).then((r) => setUnits(r.units), fail);
      if (unit.member_count > 0) void loadPeople();
    }
    setOpen(!open);
  };

  return (
    <li>
      <button type="button" class="org-unit" aria-expanded={open} onClick={toggle}>
        {open ? '▾' : '▸'} {unit.name} <span class="room-preview">{t.unitMembers(unit.member_count)}</span>
      </button>
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {open && (
        <ul>
          {units.map((u) => (
            <OrgUnitItem key={u.id} client={client} unit={u} onPick={props.onPick} />
          ))}
          {people
            .filter((p) => p.user_id !== client.userId)
            .map((p) => (
              <li key={p.user_id}>
                <button type="button" class="person" onClick={() => props.onPick(p)}>
                  <span class="room-name">{p.name}</span> <span class="room-preview">{p.user_id}{p.job === '' ? '' : ` · ${p.job}`}</span>
                </button>
              </li>
            ))}
          {hasMore && (
            <li>
              <button type="button" class="link" onClick={() => void loadPeople(people[people.length - 1]?.user_id)}>
                {t.showMore}
              </button>
            </li>
          )}
        </ul>
      )}
    </li>
  );
}
