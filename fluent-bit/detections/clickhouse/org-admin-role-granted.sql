-- 668de171-026f-51e7-8b72-6ffabdf49024 high Hugging Face organization admin role granted
-- A user was added, invited, joined or had their role changed with the admin role. Needs data: assumes
-- the role is in data.role (shape {"user": ..., "role": "admin"}), data.newRole, data.new (shape
-- {"setting": ..., "old": ..., "new": "admin"}) or data.user.role.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE (eventName IN ('org.add_user', 'org.change_role', 'org.invite_user', 'org.invite.email', 'org.invite.accept', 'org.join.from_domain', 'org.join.automatic', 'org.sso_join')) AND (tags['data.role'] = 'admin' OR tags['data.newRole'] = 'admin' OR tags['data.new'] = 'admin' OR tags['data.user.role'] = 'admin')
ORDER BY eventTime, eventID
