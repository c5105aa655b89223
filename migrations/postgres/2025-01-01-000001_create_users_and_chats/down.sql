DROP TABLE chats;
DROP TABLE users;
