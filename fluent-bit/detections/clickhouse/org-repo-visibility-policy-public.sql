-- 6c276239-5874-5562-a050-a80001de28e5 medium Hugging Face organization repository visibility policy changed
-- The organization's repository visibility policy changed (granular event; its data is not needed), or
-- a legacy event set the default repository visibility to public. New repositories may be created
-- public. Granular event org.settings.security.repo_visibility, or a legacy org.update_settings event.
-- Legacy events (org.update_settings, before 2026-06-16) carry the change only in data, whose shape
-- the Hub does not document. This rule assumes one of: {"setting": NAME, "old": ..., "new": VALUE},
-- {NAME: VALUE}, {NAME: {"old": ..., "new": VALUE}} or {"changes": {NAME: VALUE}}, with NAME one of
-- defaultRepoVisibility, repoVisibility and VALUE "public". A legacy change in any other shape is
-- still caught by the rule 'Organization settings changed'.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'org.settings.security.repo_visibility' OR eventName = 'org.update_settings' AND ((tags['data.setting'] IN ('defaultRepoVisibility', 'repoVisibility')) AND tags['data.new'] = 'public' OR tags['data.defaultRepoVisibility'] = 'public' OR tags['data.repoVisibility'] = 'public' OR tags['data.defaultRepoVisibility.new'] = 'public' OR tags['data.repoVisibility.new'] = 'public' OR tags['data.changes.defaultRepoVisibility'] = 'public' OR tags['data.changes.repoVisibility'] = 'public')
ORDER BY eventTime, eventID
