-- 4bdc94e5-ba27-50d4-a684-16bbdec0384f medium Hugging Face resource group admin role granted
-- A user was given the admin role in a resource group. Needs data: assumes one of the shapes {"user":
-- ..., "role": "admin"} (or {"users": [...], "role": "admin"}), {"newRole": "admin"} or {"setting":
-- ..., "old": ..., "new": "admin"}.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE (eventName IN ('resource_group.change_role', 'resource_group.add_users')) AND (tags['data.role'] = 'admin' OR tags['data.newRole'] = 'admin' OR tags['data.new'] = 'admin')
ORDER BY eventTime, eventID
