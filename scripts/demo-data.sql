-- Sample data modeled on seed 000 (AI booking MVP): tenants, leads, appointments, calls.
create table tenants (id serial primary key, name text not null, plan text not null default 'starter', created_at timestamptz default now());
create table leads (id bigserial primary key, tenant_id int not null references tenants(id), name text, phone text, email text, status text not null default 'new', created_at timestamptz default now());
create table appointments (id bigserial primary key, lead_id bigint not null references leads(id), starts_at timestamptz not null, calendar_event_id text, status text not null default 'booked');
create table calls (id bigserial primary key, lead_id bigint references leads(id), vapi_call_id text, duration_s int, outcome text, created_at timestamptz default now());
create index on leads (tenant_id, status);
alter table leads enable row level security;
create policy tenant_leads on leads using (tenant_id = coalesce(nullif(current_setting('app.tenant_id', true), '')::int, tenant_id));
create function booked_count(t int) returns bigint language sql stable as $$
  select count(*) from appointments a join leads l on l.id = a.lead_id where l.tenant_id = t $$;

insert into tenants (name, plan) select 'Clinic ' || g, case when g % 3 = 0 then 'pro' else 'starter' end from generate_series(1, 25) g;
insert into leads (tenant_id, name, phone, email, status)
  select 1 + g % 25, 'Lead ' || g, '+4477009' || lpad(g::text, 5, '0'), 'lead' || g || '@example.com',
         (array['new','contacted','booked','lost'])[1 + g % 4]
  from generate_series(1, 20000) g;
insert into appointments (lead_id, starts_at, calendar_event_id)
  select id, now() + (id % 30) * interval '1 day', 'evt_' || md5(id::text) from leads where status = 'booked';
insert into calls (lead_id, vapi_call_id, duration_s, outcome)
  select 1 + g % 20000, 'call_' || md5(g::text), 30 + g % 600, (array['answered','voicemail','no-answer'])[1 + g % 3]
  from generate_series(1, 40000) g;
analyze;
