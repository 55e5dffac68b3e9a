-- 95acec80-358c-5c03-a844-df9ec779a700 high Hugging Face repository made public
-- A repository's visibility was changed to public. Needs data: assumes one of the shapes {"private":
-- false}, {"changes": {"private": false}}, {"visibility": "public"}, {"changes": {"visibility":
-- "public"}} or {"setting": "private"|"visibility", "old": ..., "new": false|"public"}.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'repo.update_settings' AND (tags['data.private'] = 'false' OR tags['data.visibility'] = 'public' OR tags['data.changes.private'] = 'false' OR tags['data.changes.visibility'] = 'public' OR tags['data.setting'] = 'private' AND tags['data.new'] = 'false' OR tags['data.setting'] = 'visibility' AND tags['data.new'] = 'public')
ORDER BY eventTime, eventID
